/**
 * One depth model, bound and ready, with no platform in it: what Node's `DepthAnything`
 * (src/node/depth_anything.ts), the browser's (src/browser/depth_anything.ts) and the worker
 * share. Images arrive decoded (RgbImage); each shell only decodes, reads weights and starts a
 * backend. Every call leaves tf.memory().numTensors as it was, including calls that fail.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig, VARIANTS, VariantName, isMetric } from '../config/depth';
import { DepthAnythingWeights, bindWeights, disposeWeights, encode as encodeNet, forward } from '../depth/depth_anything';
import { StateDict, WeightsError } from '../weights/state_dict';
import { DEFAULT_PREPROCESS, NetworkInput, preprocess, toInputTensor } from './preprocess';
import { DepthMap, resizeBilinearAlignCorners } from './postprocess';
import { RgbImage } from './rgb';
import { ZoeInferOptions, evalInferZoe, imageToTensor, inferZoe } from './zoe_infer';

/** Weights already in memory: official key names, PyTorch shapes (what the weight readers return). */
export interface WeightsInMemory {
  stateDict: StateDict;
  config?: ModelConfig;
  source?: string;
}

/** V1 metric (ZoeDepth) models: how the official code runs one photo. */
export interface ZoePredictOptions extends Pick<ZoeInferOptions, 'padInput' | 'flip'> {
  /** evaluate.py's way (flip averaging at img_size, no padding) instead of DepthModel.infer. Default false. */
  evaluation?: boolean;
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

/** What a shell says about its backend. */
export interface SessionBackend {
  name: string;
  description: string;
}

/** A variant name (`'v2-vits'`) as its configuration; anything else as it is. */
export function resolveVariant<T>(config: T | VariantName): T | ModelConfig {
  if (typeof config !== 'string') return config;
  if (config in VARIANTS) return VARIANTS[config as VariantName];
  return config as T;
}

/** The configuration, or one line naming what would settle it. */
export function requireConfig(cfg: ModelConfig | undefined, source: string, problem?: string): ModelConfig {
  if (!cfg) throw new WeightsError(problem ?? `${source}: no model configuration; pass { config } (a ModelConfig or a variant name such as 'v2-vits')`);
  return cfg;
}

/** Reads a tensor's values and frees it, even when the read fails. */
async function readAndDispose(t: tf.Tensor): Promise<Float32Array> {
  try {
    return (await t.data()) as Float32Array;
  } finally {
    t.dispose();
  }
}

export class DepthSession<B extends SessionBackend = SessionBackend> {
  private weights: DepthAnythingWeights | null;

  /** Binds the weights strictly: a mismatch lists every key, and no tensor is left behind. */
  /**
   * 'q8' when the file stored its kernels as int8 (`convert --dtype q8`, dequantised at load: the
   * same compute, lossy weights), else 'float'.
   */
  readonly weightsPrecision: 'q8' | 'float';

  protected constructor(stateDict: StateDict, readonly config: ModelConfig, readonly backend: B, readonly source: string) {
    this.weightsPrecision = [...stateDict.values()].some((t) => t.storedAs === 'int8') ? 'q8' : 'float';
    this.weights = bindWeights(stateDict, config, source);
  }

  /** True for metric models (depth in metres). */
  get metric(): boolean {
    return isMetric(this.config);
  }

  protected live(): DepthAnythingWeights {
    if (!this.weights) throw new Error('DepthAnything: this model was disposed');
    return this.weights;
  }

  /** The exact network input for an image (the official `image2tensor`), NHWC float32. */
  preprocessRgb(img: RgbImage, opts: PredictOptions = {}): NetworkInput {
    return preprocess(img, { inputSize: opts.inputSize ?? DEFAULT_PREPROCESS.inputSize });
  }

  /** Depth at the image's own size: relative (larger is nearer) or, for metric models, metres. */
  async predictRgb(img: RgbImage, opts: PredictOptions = {}): Promise<DepthMap> {
    const w = this.live();
    const cfg = this.config;
    if (cfg.zoe) {
      // V1 metric (ZoeDepth): the official infer (reflect padding + flip) or evaluate.py's way, on RGB / 255.
      const depth = tf.tidy(() => {
        const x = imageToTensor(img);
        return opts.evaluation
          ? evalInferZoe(w, cfg, x, { flip: opts.flip, keepAspectRatio: false })
          : inferZoe(w, cfg, x, { padInput: opts.padInput, flip: opts.flip });
      });
      const [, h, wd] = depth.shape;
      const net = await readAndDispose(depth);
      // evaluate.py compares at the ground truth's size: bilinear (align_corners) to the image's.
      const data = h === img.height && wd === img.width ? net : resizeBilinearAlignCorners(net, h, wd, img.height, img.width);
      return { data, width: img.width, height: img.height, metric: true };
    }
    const input = this.preprocessRgb(img, opts);
    const net = await readAndDispose(tf.tidy(() => forward(w, cfg, toInputTensor(input))));
    const data = resizeBilinearAlignCorners(net, input.height, input.width, img.height, img.width);
    return { data, width: img.width, height: img.height, metric: this.metric };
  }

  /**
   * Depth for several images in one forward pass of batch B (a server batching requests): each
   * result is `predictRgb`'s for that image within the parity tolerance. The images must share
   * one network input size (same `targetSize`); V1 metric models run one by one.
   */
  async predictRgbBatch(imgs: RgbImage[], opts: PredictOptions = {}): Promise<DepthMap[]> {
    const w = this.live();
    if (this.config.zoe || imgs.length < 2) {
      const out: DepthMap[] = [];
      for (const img of imgs) out.push(await this.predictRgb(img, opts));
      return out;
    }
    const inputs = imgs.map((img) => this.preprocessRgb(img, opts));
    const { width, height } = inputs[0];
    const other = inputs.find((i) => i.width !== width || i.height !== height);
    if (other) throw new Error(`predictRgbBatch: network inputs differ (${width}x${height} and ${other.width}x${other.height}); batch only images of one input size`);
    const net = await readAndDispose(tf.tidy(() => forward(w, this.config, tf.concat(inputs.map(toInputTensor), 0) as tf.Tensor4D)));
    const plane = width * height;
    return imgs.map((img, b) => ({
      data: resizeBilinearAlignCorners(net.subarray(b * plane, (b + 1) * plane), height, width, img.height, img.width),
      width: img.width,
      height: img.height,
      metric: this.metric,
    }));
  }

  /** The encoder's four intermediate layers for an image; the caller owns (and disposes) them. */
  encodeRgb(img: RgbImage, opts: PredictOptions = {}): EncodedImage {
    const w = this.live();
    const input = this.preprocessRgb(img, opts);
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
