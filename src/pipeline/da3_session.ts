/**
 * Depth Anything 3, bound and ready, with no platform in it: `DepthAnything3.inference()` of the
 * official api.py — preprocessing (pipeline/da3/preprocess.ts), the network (da3/da3.ts), the
 * prediction (pipeline/da3/prediction.ts) — for Node's and the browser's `DepthAnything3`, which
 * only decode images, read weights and start a backend. Every call leaves tf.memory().numTensors
 * as it was, including calls that fail.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Da3Config } from '../config/da3';
import { Da3Output, Da3Weights, bindDa3Weights, da3Forward, disposeDa3Weights } from '../da3/da3';
import type { RefViewStrategy } from '../da3/reference_view_selector';
import { StateDict } from '../weights/state_dict';
import { Da3InputError } from './da3/errors';
import { da3ApplyMetricScaling } from './da3/postprocess';
import { Da3NetOutput, Da3PredictionResult, da3Run } from './da3/prediction';
import { DA3_DEFAULT_PROCESS_RES, DA3_DEFAULT_PROCESS_RES_METHOD, Da3ProcessResMethod, MatrixStack, da3Preprocess } from './da3/preprocess';
import { RgbImage } from './rgb';

export interface Da3InferenceOptions {
  /** World-to-camera per view, `[N, 4, 4]` or `[N, 3, 4]` (OpenCV axes): known cameras (any-view models). */
  extrinsics?: MatrixStack;
  /** Pinhole K per view `[N, 3, 3]`, in pixels of the images as given. With `extrinsics`. */
  intrinsics?: MatrixStack;
  /** `process_res` (default 504). */
  processRes?: number;
  /** `process_res_method` (default `upper_bound_resize`). */
  processResMethod?: Da3ProcessResMethod;
  /** Reference view for 3 or more views without cameras (default `saddle_balanced`, as the official inference). */
  refViewStrategy?: RefViewStrategy;
  /** Known cameras: divide the depth by the Umeyama scale (official `align_to_input_ext_scale`, default true). */
  alignToInputExtScale?: boolean;
}

/** What `inference` returns: the official `Prediction`'s fields (see docs/da3.md for the conventions). */
export interface Da3Inference extends Da3PredictionResult {
  /** True for DA3METRIC-LARGE: `depth` is then the network's depth; metres need a focal length (`metricDepth`). */
  metric: boolean;
}

/** The net's outputs for one scene as flat arrays (`[N, H, W]` maps, `[N, 3, 4]`, `[N, 3, 3]`). */
async function readNetOutput(o: Da3Output): Promise<Da3NetOutput> {
  const read = async (t: tf.Tensor | undefined) => (t ? ((await t.data()) as Float32Array) : null);
  return {
    depth: (await read(o.depth))!,
    depthConf: await read(o.depthConf),
    extrinsics: await read(o.extrinsics),
    intrinsics: await read(o.intrinsics),
    sky: await read(o.sky),
  };
}

export class Da3Session<B extends { name: string; description: string } = { name: string; description: string }> {
  private weights: Da3Weights | undefined;

  /**
   * Binds a state dict in the official key names (tied tensors already restored) to `config`.
   * `metric`: a DA3METRIC-LARGE file (the mono layout; metres by `metricDepth`).
   */
  constructor(stateDict: StateDict, readonly config: Da3Config, readonly backend: B, readonly source: string, readonly metric = false) {
    this.weights = bindDa3Weights(stateDict, config, source);
  }

  /** True for the any-view models (cameras, several views); false for DA3MONO / DA3METRIC. */
  get anyView(): boolean {
    return this.config.head.kind === 'dualdpt';
  }

  protected live(): Da3Weights {
    if (!this.weights) throw new Error('this Depth Anything 3 model was disposed');
    return this.weights;
  }

  /** The official `inference()` on decoded views: depth, confidence, cameras, sky, processed images. */
  async inferenceRgb(images: readonly RgbImage[], opts: Da3InferenceOptions = {}): Promise<Da3Inference> {
    const weights = this.live();
    if (images.length === 0) throw new Da3InputError('Depth Anything 3 needs at least one image; got none');
    if (!this.anyView && images.length > 1) {
      throw new Da3InputError(`${this.source} is a monocular Depth Anything 3 model (DA3MONO/DA3METRIC): one image at a time; got ${images.length}`);
    }
    const cameras = opts.extrinsics !== undefined || opts.intrinsics !== undefined
      ? { ...(opts.extrinsics !== undefined ? { extrinsics: opts.extrinsics } : {}), ...(opts.intrinsics !== undefined ? { intrinsics: opts.intrinsics } : {}) }
      : undefined;
    const pre = da3Preprocess(images, {
      processRes: opts.processRes ?? DA3_DEFAULT_PROCESS_RES,
      processResMethod: opts.processResMethod ?? DA3_DEFAULT_PROCESS_RES_METHOD,
    }, cameras);
    const prediction = await da3Run(pre, async (x) => {
      const out = tf.tidy(() => {
        const input = tf.tensor5d(x.input, [1, x.views, 3, x.height, x.width]);
        const forwardOpts = {
          ...(x.extrinsics && x.intrinsics ? { cameras: { extrinsics: x.extrinsics, intrinsics: x.intrinsics } } : {}),
          ...(opts.refViewStrategy ? { refViewStrategy: opts.refViewStrategy } : {}),
        };
        return da3Forward(weights, this.config, input, forwardOpts) as unknown as tf.TensorContainer;
      }) as unknown as Da3Output;
      try {
        return await readNetOutput(out);
      } finally {
        tf.dispose(out as unknown as tf.TensorContainer);
      }
    }, { alignToInputExtScale: opts.alignToInputExtScale ?? true, hasCameraEncoder: Boolean(this.config.camEnc) });
    return { ...prediction, metric: this.metric };
  }

  /** Releases the weights (GPU memory included). Calls after this throw. */
  dispose(): void {
    if (this.weights) disposeDa3Weights(this.weights);
    this.weights = undefined;
  }
}

/**
 * DA3METRIC-LARGE's depth in metres: `focal x depth / 300`, focal = (fx + fy) / 2 in pixels at the
 * processed size (the official README's rule, `apply_metric_scaling`). `intrinsics`: `[N, 3, 3]` at
 * the processed size, or one focal length in those pixels for every view.
 */
export function metricDepth(p: Pick<Da3PredictionResult, 'depth' | 'views' | 'height' | 'width'>, intrinsics: ArrayLike<number> | number): Float32Array {
  const K = typeof intrinsics === 'number'
    ? Float32Array.from({ length: p.views * 9 }, (_, i) => ((i % 9 === 0 || i % 9 === 4) ? intrinsics : 0))
    : intrinsics;
  if (K.length !== p.views * 9) throw new Da3InputError(`metricDepth: intrinsics have ${K.length} numbers; ${p.views} view(s) x 3 x 3 expected`);
  return da3ApplyMetricScaling(p.depth, K, p.views, p.height, p.width);
}
