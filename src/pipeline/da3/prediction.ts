/**
 * From the network's output dict to what `DepthAnything3.inference` returns (api.py
 * `_convert_to_prediction`, `_align_to_input_extrinsics_intrinsics`, `_add_processed_images`):
 *
 *   da3Prediction(net: Da3NetOutput, pre: Da3Preprocessed, options?) -> Da3PredictionResult
 *   da3Run(pre, runNet: Da3NetRunner, options?) -> Promise<Da3PredictionResult>   (the whole call)
 *
 * - mono / metric nets (a `sky` map): the sky fill of `_process_mono_sky_estimation` (idempotent,
 *   so a net output that already has it is unchanged) and `sky = sky >= 0.5`;
 * - known cameras (`pre.extrinsics`): evo Umeyama of the input cameras onto the predicted ones; with
 *   `alignToInputExtScale` (official default) the input extrinsics and intrinsics replace the
 *   predicted ones and depth is divided by the scale;
 * - `processedImages` from the network input (float64 truncation).
 * Everything is one scene (B = 1) of N views; maps `[N, H, W]`, cameras `[N, 3, 4]` / `[N, 3, 3]`.
 */
import { da3AlignToInputExtrinsics, da3NormalizeExtrinsics } from './cameras';
import { Da3InputError } from './errors';
import { da3ProcessedImages, da3SkyPostprocess } from './postprocess';
import { Da3Preprocessed } from './preprocess';

/** The net's output dict for one scene (the model's `depth`, `depth_conf`, `extrinsics`, `intrinsics`, `sky`). */
export interface Da3NetOutput {
  /** `[N, H, W]` depth (`model.depth` without the batch and channel axes). */
  depth: Float32Array;
  /** `[N, H, W]` `depth_conf` (any-view nets), absent for mono / metric. */
  depthConf?: Float32Array | null;
  /** `[N, 3, 4]` world-to-camera (any-view nets with a camera decoder). */
  extrinsics?: Float32Array | null;
  /** `[N, 3, 3]` pixels at the processed size. */
  intrinsics?: Float32Array | null;
  /** `[N, H, W]` relu sky logit (mono / metric nets). */
  sky?: Float32Array | null;
}

export interface Da3PredictionResult {
  views: number;
  height: number;
  width: number;
  depth: Float32Array;
  conf: Float32Array | null;
  extrinsics: Float32Array | null;
  intrinsics: Float32Array | null;
  /** uint8 `[N, H, W]`, 1 where `sky >= 0.5` (mono / metric only). */
  sky: Uint8Array | null;
  /** uint8 `[N, H, W, 3]`. */
  processedImages: Uint8Array;
  /** Known cameras: the Umeyama scale the depth was divided by (`align_poses_umeyama.2`). */
  cameraScale: number | null;
}

export function da3Prediction(net: Da3NetOutput, pre: Da3Preprocessed, options: { alignToInputExtScale?: boolean } = {}): Da3PredictionResult {
  const { views: n, height: h, width: w } = pre;
  const hw = h * w;
  const check = (name: string, a: ArrayLike<number> | null | undefined, per: number): void => {
    if (a && a.length !== n * per) throw new Error(`da3Prediction: net output ${name} has ${a.length} values; ${n} view(s) x ${per} expected`);
  };
  check('depth', net.depth, hw); check('depthConf', net.depthConf, hw); check('sky', net.sky, hw);
  check('extrinsics', net.extrinsics, 12); check('intrinsics', net.intrinsics, 9);
  let depth = net.depth;
  let sky: Uint8Array | null = null;
  if (net.sky) {
    const s = da3SkyPostprocess(depth, net.sky);
    depth = s.depth;
    sky = s.skyMask;
  }
  let extrinsics = net.extrinsics ?? null;
  let intrinsics = net.intrinsics ?? null;
  let cameraScale: number | null = null;
  if (pre.extrinsics) {
    if (!extrinsics) throw new Error('da3Prediction: known cameras need a net that predicts extrinsics (any-view models)');
    const a = da3AlignToInputExtrinsics(extrinsics, pre.extrinsics, depth, n, options.alignToInputExtScale ?? true);
    extrinsics = a.extrinsics;
    depth = a.depth;
    intrinsics = pre.intrinsics;
    cameraScale = a.s;
  }
  return {
    views: n, height: h, width: w,
    depth, conf: net.depthConf ?? null, extrinsics, intrinsics, sky,
    processedImages: da3ProcessedImages(pre.input, n, h, w),
    cameraScale,
  };
}

/**
 * The network as `da3Run` calls it: the normalised input `[N, 3, H, W]` and, with known cameras,
 * the normalised extrinsics `[N, 4, 4]` and processed intrinsics `[N, 3, 3]` the camera encoder
 * takes (`DepthAnything3Net.forward(x, extrinsics, intrinsics)`), to the net's output dict.
 */
export type Da3NetRunner = (input: {
  input: Float32Array;
  views: number;
  height: number;
  width: number;
  extrinsics: Float32Array | null;
  intrinsics: Float32Array | null;
}) => Promise<Da3NetOutput>;

/**
 * `DepthAnything3.inference` around a network: preprocessed views in, `prediction.*` out. Refuses
 * known cameras for a net without a camera encoder before running it (the official code fails
 * inside the net).
 */
export async function da3Run(pre: Da3Preprocessed, runNet: Da3NetRunner, options: { alignToInputExtScale?: boolean; hasCameraEncoder?: boolean } = {}): Promise<Da3PredictionResult> {
  if (pre.extrinsics && options.hasCameraEncoder === false) {
    throw new Da3InputError('known cameras need an any-view model (DA3-SMALL/BASE/LARGE/GIANT); mono and metric models have no camera encoder');
  }
  const net = await runNet({
    input: pre.input, views: pre.views, height: pre.height, width: pre.width,
    extrinsics: pre.extrinsics ? da3NormalizeExtrinsics(pre.extrinsics, pre.views) : null,
    intrinsics: pre.intrinsics,
  });
  return da3Prediction(net, pre, options);
}
