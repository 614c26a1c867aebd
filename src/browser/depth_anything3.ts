/**
 * Depth Anything 3 in a page: the same session as in Node (src/pipeline/da3_session.ts) on a
 * browser backend, weights fetched (Cache Storage) or read from a File, views decoded by the page.
 *
 *   const model = await DepthAnything3.load('/models/DA3-SMALL/model.safetensors', { wasmPaths });
 *   const p = await model.inference([fileA, fileB]);   // depth, conf, extrinsics, intrinsics ...
 */
import { BrowserBackendInfo } from '../backends/browser';
import { DA3_VARIANTS, Da3Config } from '../config/da3';
import { da3StateDictFromSafetensors, da3VariantFromStateDict, isDa3Safetensors } from '../da3/weights';
import { parseSafetensors } from '../io/safetensors';
import { Da3Inference, Da3InferenceOptions, Da3Session } from '../pipeline/da3_session';
import { RgbImage } from '../pipeline/rgb';
import { WeightsError } from '../weights/state_dict';
import { BrowserLoadOptions, backendForPageLoad, readWeights, sourceName } from './depth_anything';
import { BrowserImageInput, loadBrowserImage } from './image';

export interface Da3BrowserLoadOptions extends Pick<BrowserLoadOptions, 'backend' | 'wasmPaths' | 'onProgress' | 'cache' | 'signal' | 'name'> {
  /** Default: the released model the tensors match. */
  config?: Da3Config;
  /** DA3METRIC-LARGE (metres through `metricDepth`). Default: from the released size and the name. */
  metric?: boolean;
}

export class DepthAnything3 extends Da3Session<BrowserBackendInfo> {
  /** A DA3 safetensors file (the released `model.safetensors`, tied tensors restored) by URL, bytes or File. */
  static async load(weights: string | URL | ArrayBuffer | Uint8Array | Blob, opts: Da3BrowserLoadOptions = {}): Promise<DepthAnything3> {
    const backend = await backendForPageLoad(opts);
    const source = opts.name ?? sourceName(weights);
    const parsed = parseSafetensors(await readWeights(weights, opts), source);
    if (!isDa3Safetensors(parsed)) throw new WeightsError(`${source}: not a Depth Anything 3 checkpoint: model.backbone.pretrained.pos_embed is missing`);
    const stateDict = da3StateDictFromSafetensors(parsed);
    const variant = opts.config ? undefined : da3VariantFromStateDict(stateDict, source, source);
    const metric = opts.metric ?? (variant ? Boolean((DA3_VARIANTS[variant.name] as { metric?: boolean }).metric) : /metric/i.test(source));
    return new DepthAnything3(stateDict, opts.config ?? variant!.config, backend, source, metric);
  }

  /** `inference(images, ...)` on URLs, Files, Blobs, image elements or decoded RGB (one scene). */
  async inference(images: readonly BrowserImageInput[], opts: Da3InferenceOptions = {}): Promise<Da3Inference> {
    this.live();
    const views: RgbImage[] = [];
    for (const image of images) views.push(await loadBrowserImage(image));
    return this.inferenceRgb(views, opts);
  }
}
