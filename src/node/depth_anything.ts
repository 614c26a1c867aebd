/**
 * The library in one object: load weights once, then `predict` images to depth at their own size.
 *
 *   const model = await DepthAnything.load('depth_anything_v2_vits.safetensors');
 *   const depth = await model.predict('photo.jpg');   // { data, width, height, metric }
 *   model.dispose();
 *
 * The only async boundary of the pipeline; every call leaves tf.memory().numTensors as it was.
 */
import { promises as fs } from 'fs';
import * as tf from '@tensorflow/tfjs-core';
import { BackendInfo, BackendName, initBackend } from '../backends/node';
import { ConfigError, ModelConfig, VARIANTS, VariantName, configFromJson, isMetric } from '../config/depth';
import { DepthAnythingWeights, bindWeights, disposeWeights, encode as encodeNet, forward } from '../depth/depth_anything';
import { StateDict, WeightsError } from '../weights/state_dict';
import { loadWeightsFile } from './weights_file';
import { ImageInput, RgbImage, loadImage } from './image';
import { DEFAULT_PREPROCESS, NetworkInput, preprocess, toInputTensor } from '../pipeline/preprocess';
import { DepthMap, resizeBilinearAlignCorners } from '../pipeline/postprocess';
import { ZoePredictOptions, predictZoe } from '../pipeline/zoe_predict';
import type { VideoDepthFrame, VideoPredictOptions } from './video/run';

/** Weights already in memory: official key names, PyTorch shapes (what `loadWeightsFile` returns). */
export interface WeightsInMemory {
  stateDict: StateDict;
  config?: ModelConfig;
  source?: string;
}

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

export interface PredictOptions extends ZoePredictOptions {
  /** Lower bound of the network input's sides, a multiple of 14. Default 518 (official). V1 metric models resize to their img_size instead. */
  inputSize?: number;
}

/** One intermediate layer of the encoder, as feature maps. */
export interface FeatureMap {
  /** Patch tokens as a map [1, patchH, patchW, C] (normalised by the final LayerNorm). */
  patch: tf.Tensor4D;
  /** The class token [1, C]. */
  cls: tf.Tensor2D;
}

/** What `encode` returns. The tensors belong to the caller: call `dispose()` when done. */
export interface EncodedImage {
  patchH: number;
  patchW: number;
  /** The network input size the image was resized to (14 x patch grid). */
  inputWidth: number;
  inputHeight: number;
  /** The four layers that feed the DPT head, shallow to deep. */
  features: FeatureMap[];
  dispose(): void;
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

function resolveConfigOption(config: LoadOptions['config']): ModelConfig | string | undefined {
  if (typeof config === 'string' && config in VARIANTS) return VARIANTS[config as VariantName];
  return config;
}

export class DepthAnything {
  private weights: DepthAnythingWeights | null;

  private constructor(weights: DepthAnythingWeights, readonly config: ModelConfig, readonly backend: BackendInfo, readonly source: string) {
    this.weights = weights;
  }

  /**
   * Loads a weights file (`.pth`, Hugging Face or our safetensors) or weights already in memory,
   * starts the backend and binds the weights to the model (strictly: a mismatch lists every key).
   */
  static async load(weights: string | WeightsInMemory, opts: LoadOptions = {}): Promise<DepthAnything> {
    const backend = opts.backend !== undefined || opts.threads !== undefined || !tf.engine().backendName
      ? await initBackend(opts.backend ?? 'auto', opts.threads !== undefined ? { threads: opts.threads } : {})
      : { name: tf.getBackend(), description: tf.getBackend() };
    const config = resolveConfigOption(opts.config);
    let stateDict: StateDict;
    let cfg: ModelConfig | undefined;
    let source: string;
    if (typeof weights === 'string') {
      const loaded = await loadWeightsFile(weights, { config });
      if (!loaded.config) throw new WeightsError(loaded.configProblem ?? `${weights}: no model configuration; pass { config }`);
      ({ stateDict, config: cfg, source } = loaded);
    } else {
      source = weights.source ?? '<weights in memory>';
      stateDict = weights.stateDict;
      if (typeof config === 'string') {
        cfg = await readConfigJson(config);
      } else {
        cfg = config ?? weights.config;
      }
    }
    if (!cfg) throw new WeightsError(`${source}: no model configuration; pass { config } (a ModelConfig, a variant name such as 'v2-vits', or a config.json path)`);
    return new DepthAnything(bindWeights(stateDict, cfg, source), cfg, backend, source);
  }

  /** True for metric models (depth in metres). */
  get metric(): boolean {
    return isMetric(this.config);
  }

  private live(): DepthAnythingWeights {
    if (!this.weights) throw new Error('DepthAnything: this model was disposed');
    return this.weights;
  }

  /** The exact network input for an image (the official `image2tensor`), NHWC float32. */
  async preprocess(image: ImageInput, opts: PredictOptions = {}): Promise<NetworkInput> {
    return preprocess(await loadImage(image), { inputSize: opts.inputSize ?? DEFAULT_PREPROCESS.inputSize });
  }

  /**
   * Depth at the image's own size: relative (larger is nearer) or, for metric models, metres.
   * `image`: a file path, encoded bytes (JPEG, PNG, WebP, TIFF, GIF...), or decoded RGB pixels.
   */
  async predict(image: ImageInput, opts: PredictOptions = {}): Promise<DepthMap> {
    const w = this.live();
    const img: RgbImage = await loadImage(image);
    // V1 metric (ZoeDepth): the official infer (padding + flip) or evaluate.py's way; see src/pipeline/zoe_predict.ts.
    if (this.config.zoe) return predictZoe(w, this.config, img, opts);
    const input = preprocess(img, { inputSize: opts.inputSize ?? DEFAULT_PREPROCESS.inputSize });
    const depth = tf.tidy(() => forward(w, this.config, toInputTensor(input)));
    let net: Float32Array;
    try {
      net = (await depth.data()) as Float32Array;
    } finally {
      depth.dispose();
    }
    const data = resizeBilinearAlignCorners(net, input.height, input.width, img.height, img.width);
    return { data, width: img.width, height: img.height, metric: this.metric };
  }

  /**
   * Depth for each frame of a video file (decoded by the system's ffmpeg, one frame in memory at a
   * time), each exactly `predict` on the decoded frame: `for await (const { index, time, depth } of model.predictVideo('clip.mp4')) ...`
   * Loaded on first use: the video code is Node-only (child processes).
   */
  async *predictVideo(video: string, opts: VideoPredictOptions = {}): AsyncGenerator<VideoDepthFrame, void, void> {
    const { predictVideoFrames } = await import('./video/run');
    yield* predictVideoFrames(this, video, opts);
  }

  /** The encoder's four intermediate layers for an image; the caller owns (and disposes) them. */
  async encode(image: ImageInput, opts: PredictOptions = {}): Promise<EncodedImage> {
    const w = this.live();
    const input = await this.preprocess(image, opts);
    const { patchH, patchW, layers } = tf.tidy(() => {
      const enc = encodeNet(w, this.config, toInputTensor(input));
      const maps = enc.layers.map((l) => ({
        patch: tf.reshape(l.patch, [1, enc.patchH, enc.patchW, l.patch.shape[2]]) as tf.Tensor4D,
        cls: l.cls,
      }));
      return { patchH: enc.patchH, patchW: enc.patchW, layers: maps } as unknown as tf.TensorContainer;
    }) as unknown as { patchH: number; patchW: number; layers: FeatureMap[] };
    return {
      patchH,
      patchW,
      inputWidth: input.width,
      inputHeight: input.height,
      features: layers,
      dispose: () => tf.dispose(layers as unknown as tf.TensorContainer),
    };
  }

  /** Frees the weights; the model cannot be used afterwards. */
  dispose(): void {
    if (this.weights) disposeWeights(this.weights);
    this.weights = null;
  }
}
