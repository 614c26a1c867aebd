/**
 * Depth Anything 3 in Node: depth, confidence and cameras from one or several photos, and the
 * scene the official exporter writes.
 *
 *   const model = await DepthAnything3.load('DA3-SMALL/model.safetensors');
 *   const p = await model.inference(['a.jpg', 'b.jpg']);   // { depth, conf, extrinsics, intrinsics, ... }
 *   model.dispose();
 *
 * A thin shell over the platform-free session (src/pipeline/da3_session.ts): this file reads the
 * weights file (and a config.json beside it), starts a Node backend and decodes images with sharp
 * as PIL opens them (no EXIF rotation).
 */
import { BackendInfo, BackendName, backendForLoad } from '../backends/node';
import { DA3_VARIANTS } from '../config/da3';
import { Da3Inference, Da3InferenceOptions, Da3Session } from '../pipeline/da3_session';
import { RgbImage, isRgbImage, validateRgb } from '../pipeline/rgb';
import { loadDa3WeightsFile } from './da3_weights';
import { ImageInput, decodeImage } from './image';

export type { Da3Inference, Da3InferenceOptions } from '../pipeline/da3_session';
export { metricDepth } from '../pipeline/da3_session';

export interface Da3LoadOptions {
  backend?: BackendName;
  threads?: number;
  /** A config.json in the fixtures' schema (`model_config` + `tiny`). Default: one beside the weights, else the released size the tensors show. */
  config?: string;
  /** A DA3METRIC-LARGE file (metres through `metricDepth`). Default: from the file name. */
  metric?: boolean;
}

/** Decodes a view as the official loader does (PIL, no EXIF rotation). */
function loadView(input: ImageInput): Promise<RgbImage> {
  if (isRgbImage(input)) return Promise.resolve(validateRgb(input));
  return decodeImage(input, typeof input === 'string' ? input : '<buffer>', { autoOrient: false });
}

export class DepthAnything3 extends Da3Session<BackendInfo> {
  /** Reads a DA3 weights file (the released `model.safetensors` or ours), starts the backend and binds the weights. */
  static async load(weights: string, opts: Da3LoadOptions = {}): Promise<DepthAnything3> {
    const backend = await backendForLoad(opts);
    const loaded = await loadDa3WeightsFile(weights, opts.config ? { config: opts.config } : {});
    const metric = opts.metric ?? (loaded.variant ? Boolean((DA3_VARIANTS[loaded.variant] as { metric?: boolean }).metric) : /metric/i.test(weights));
    return new DepthAnything3(loaded.stateDict, loaded.config, backend, loaded.source, metric);
  }

  /** `inference(images, ...)`: files, encoded bytes or decoded RGB, one scene (see Da3InferenceOptions). */
  async inference(images: readonly ImageInput[], opts: Da3InferenceOptions = {}): Promise<Da3Inference> {
    this.live();
    const views: RgbImage[] = [];
    for (const image of images) views.push(await loadView(image));
    return this.inferenceRgb(views, opts);
  }
}
