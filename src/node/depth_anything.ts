/**
 * The library in one object, in Node: load weights once, then `predict` images to depth at their
 * own size.
 *
 *   const model = await DepthAnything.load('depth_anything_v2_vits.safetensors');
 *   const depth = await model.predict('photo.jpg');   // { data, width, height, metric }
 *   model.dispose();
 *
 * A thin shell over the platform-free session (src/pipeline/session.ts): this file reads weight
 * files and config.json from disk, starts a Node backend and decodes images with sharp.
 */
import { promises as fs } from 'fs';
import { BackendInfo, BackendName, backendForLoad } from '../backends/node';
import { ConfigError, ModelConfig, VariantName, configFromJson } from '../config/depth';
import { DepthMap } from '../pipeline/postprocess';
import { NetworkInput } from '../pipeline/preprocess';
import { DepthSession, EncodedImage, PredictOptions, WeightsInMemory, requireConfig, resolveVariant } from '../pipeline/session';
import { ImageInput, loadImage } from './image';
import { loadWeightsFile } from './weights_file';
import type { VideoDepthFrame, VideoPredictOptions } from './video/run';

export type { EncodedImage, FeatureMap, PredictOptions, WeightsInMemory } from '../pipeline/session';

export interface LoadOptions {
  /** tfjs backend. Default: keep the active one if a backend is already set, else `auto`. */
  backend?: BackendName;
  /** wasm only: threads (default: logical cores, or DEPTH_ANYTHING_THREADS). */
  threads?: number;
  /**
   * The model configuration: a `ModelConfig`, a variant name (`'v2-vits'`, see `VARIANTS`), or a
   * path to a config.json. Default: what the weights record (our safetensors' metadata, a
   * Hugging Face config.json beside them) or what their file name and tensor shapes tell.
   */
  config?: ModelConfig | VariantName | string;
}

async function readConfigJson(file: string): Promise<ModelConfig> {
  let json: unknown;
  try {
    json = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`cannot read config ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return configFromJson(json, file);
}

export class DepthAnything extends DepthSession<BackendInfo> {
  /**
   * Loads a weights file (`.pth`, Hugging Face or our safetensors) or weights already in memory,
   * starts the backend and binds the weights to the model (strictly: a mismatch lists every key).
   */
  static async load(weights: string | WeightsInMemory, opts: LoadOptions = {}): Promise<DepthAnything> {
    const backend = await backendForLoad(opts);
    const config = resolveVariant(opts.config);
    if (typeof weights === 'string') {
      // Bound once and dropped: read tensor by tensor as binding asks, never all held in JavaScript.
      const loaded = await loadWeightsFile(weights, { config, readOnAccess: true });
      return new DepthAnything(loaded.stateDict, requireConfig(loaded.config, weights, loaded.configProblem), backend, loaded.source);
    }
    const source = weights.source ?? '<weights in memory>';
    const cfg = typeof config === 'string' ? await readConfigJson(config) : config ?? weights.config;
    return new DepthAnything(weights.stateDict, requireConfig(cfg, source), backend, source);
  }

  /** The exact network input for an image (the official `image2tensor`), NHWC float32. */
  async preprocess(image: ImageInput, opts: PredictOptions = {}): Promise<NetworkInput> {
    return this.preprocessRgb(await loadImage(image), opts);
  }

  /**
   * Depth at the image's own size: relative (larger is nearer) or, for metric models, metres.
   * `image`: a file path, encoded bytes (JPEG, PNG, WebP, TIFF, GIF...), or decoded RGB pixels.
   */
  async predict(image: ImageInput, opts: PredictOptions = {}): Promise<DepthMap> {
    this.live();
    return this.predictRgb(await loadImage(image), opts);
  }

  /** The encoder's four intermediate layers for an image; the caller owns (and disposes) them. */
  async encode(image: ImageInput, opts: PredictOptions = {}): Promise<EncodedImage> {
    this.live();
    return this.encodeRgb(await loadImage(image), opts);
  }

  /**
   * Depth for each frame of a video file (decoded by the system's ffmpeg, one frame in memory at a
   * time), each exactly `predict` on the decoded frame: `for await (const { index, time, depth } of model.predictVideo('clip.mp4')) ...`
   */
  async *predictVideo(video: string, opts: VideoPredictOptions = {}): AsyncGenerator<VideoDepthFrame, void, void> {
    const { predictVideoFrames } = await import('./video/run');
    yield* predictVideoFrames(this, video, opts);
  }
}
