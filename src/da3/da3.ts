/**
 * DepthAnything3Net (model/da3.py): backbone (src/da3/dinov2), head (DualDPT or the mono DPT),
 * camera encoder (known cameras) and decoder (pose from the camera token), and the mono model's
 * sky handling, from the network input `[1, N, 3, H, W]` to the net's output dict. Weights are
 * the released `model.safetensors` layout (`model.*`). The API's preprocessing (PNG -> input),
 * extrinsics normalisation (utils/transform.ts normalizeExtrinsics), Umeyama alignment and the
 * `prediction.*` conversion sit around this.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Da3Config, HEAD_CHUNK, PATCH_SIZE, checkDa3Config } from '../config/da3';
import { checkWasmWeights, tensorBytes, wasmAbortError } from '../backends/wasm_memory';
import { checkDa3Limits } from './limits';
import { Tap } from '../nn/tap';
import { StateDict, StateDictReader, WeightsError } from '../weights/state_dict';
import { isDa3StateDict, isZoeStateDict } from '../weights/detect';
import { CameraDecWeights, cameraDec, loadCameraDec } from './cam_dec';
import { CameraEncWeights, cameraEnc, cameraPoseEncodings, loadCameraEnc } from './cam_enc';
import { Da3DinoWeights, Da3Feature, Da3Taps, da3Encoder, loadDa3Dino } from './dinov2/vision_transformer';
import { DptWeights, dpt, loadDpt } from './dpt';
import { DualDptWeights, dualDpt, loadDualDpt } from './dualdpt';
import { RefViewStrategy } from './reference_view_selector';
import { affineInverse, poseEncodingToExtriIntri } from './utils/transform';

export interface Da3Weights {
  backbone: Da3DinoWeights;
  head: { kind: 'dualdpt'; w: DualDptWeights } | { kind: 'dpt'; w: DptWeights };
  cam_enc?: CameraEncWeights;
  cam_dec?: CameraDecWeights;
}

/** A Depth Anything V1/V2 or segmentation file given to the DA3 loader: one line. */
function checkDa3Layout(sd: StateDict, source: string): void {
  if (isDa3StateDict(sd)) return;
  if (sd.has('pretrained.pos_embed') || isZoeStateDict(sd)) {
    throw new WeightsError(`${source}: a Depth Anything V1/V2 checkpoint (pretrained.*, depth_head.*), not a Depth Anything 3 one (model.backbone.*, model.head.*): load it as a V1/V2 model (DepthAnything, --model v2-*)`);
  }
  if (sd.has('backbone.dinov2.pos_embed')) throw new WeightsError(`${source}: a segmentation model (backbone.dinov2.*, decode_head.*), not a Depth Anything 3 one (model.backbone.*, model.head.*)`);
  throw new WeightsError(`${source}: not a Depth Anything 3 checkpoint: model.backbone.pretrained.pos_embed is missing`);
}

/**
 * Binds a state dict (released key names, PyTorch shapes; tied tensors already aliased, see
 * src/da3/weights.ts) to the configuration. Missing or mis-shaped keys: one WeightsError naming
 * them. Keys the code never reads (a release's extras, DA3-GIANT's 3DGS head) are ignored, as the
 * official `load_model(strict=False)` does.
 */
export function bindDa3Weights(sd: StateDict, cfg: Da3Config, source: string): Da3Weights {
  checkDa3Config(cfg, source);
  checkDa3Layout(sd, source);
  checkWasmWeights(sd, source); // DA3-GIANT's 5 GB cannot be held by wasm: one line, not an abort
  const reader = new StateDictReader(sd, source);
  return tf.tidy(() => {
    const w = loadDa3(reader, cfg);
    reader.finish([/./]);
    return w as unknown as tf.TensorContainer;
  }) as unknown as Da3Weights;
}

/** Every tensor the configuration needs, taken from `reader` (call inside a tidy; the reader's finish() says what was wrong). */
export function loadDa3(reader: StateDictReader, cfg: Da3Config): Da3Weights {
  return {
    backbone: loadDa3Dino(reader, cfg.net),
    head: cfg.head.kind === 'dualdpt' ? { kind: 'dualdpt', w: loadDualDpt(reader, cfg.head) } : { kind: 'dpt', w: loadDpt(reader, cfg.head) },
    ...(cfg.camEnc ? { cam_enc: loadCameraEnc(reader, cfg.camEnc.dimOut) } : {}),
    ...(cfg.camDec ? { cam_dec: loadCameraDec(reader, cfg.camDec.dimIn) } : {}),
  };
}

export function disposeDa3Weights(w: Da3Weights): void {
  tf.dispose(w as unknown as tf.TensorContainer);
}

/** Known cameras for the net: world-to-camera per view (16 numbers, 4x4, or 12, 3x4; already normalised), K per view (9). */
export interface Da3Cameras {
  extrinsics: ArrayLike<number>;
  intrinsics: ArrayLike<number>;
}

export interface Da3ForwardOptions {
  cameras?: Da3Cameras;
  /** Reference-view strategy for 3 or more views without cameras (default saddle_balanced, as inference()). */
  refViewStrategy?: RefViewStrategy;
  tap?: Tap;
}

/** The net's output dict (B = 1). Any-view: depth, depthConf, ray, rayConf, extrinsics, intrinsics; mono: depth, sky. */
export interface Da3Output {
  depth: tf.Tensor4D; // [1, N, H, W]
  depthConf?: tf.Tensor4D; // [1, N, H, W]
  /** World-to-camera [1, N, 3, 4] (OpenCV axes). */
  extrinsics?: tf.Tensor4D;
  /** Pixels at H x W [1, N, 3, 3]. */
  intrinsics?: tf.Tensor4D;
  ray?: tf.Tensor; // [1, N, 8h, 8w, 6]
  rayConf?: tf.Tensor4D; // [1, N, 8h, 8w]
  sky?: tf.Tensor4D; // [1, N, H, W]
}

export class Da3InputError extends Error {
  constructor(message: string) { super(message); this.name = 'Da3InputError'; }
}

/** One clear line unless x is float32 [1, N >= 1, 3, H, W] with H, W positive multiples of 14, and the cameras fit. */
export function checkDa3Input(x: tf.Tensor, cfg: Da3Config, cameras?: Da3Cameras): asserts x is tf.Tensor5D {
  const s = `[${x.shape.join(', ')}]`;
  if (x.rank !== 5 || x.shape[0] !== 1 || x.shape[2] !== 3) throw new Da3InputError(`Depth Anything 3 input must be [1, views, 3, height, width] (one scene, normalised RGB); got ${s}`);
  const [, N, , H, W] = x.shape;
  if (N < 1) throw new Da3InputError(`Depth Anything 3 input has no views (${s})`);
  if (H === 0 || W === 0 || H % PATCH_SIZE !== 0 || W % PATCH_SIZE !== 0) {
    throw new Da3InputError(`Depth Anything 3 input height and width must be positive multiples of ${PATCH_SIZE}; got ${H}x${W}`);
  }
  if (x.dtype !== 'float32') throw new Da3InputError(`Depth Anything 3 input must be float32; got ${x.dtype}`);
  if (!cameras) return;
  if (!cfg.camEnc) throw new Da3InputError('this Depth Anything 3 model (mono/metric) has no camera encoder: it takes no cameras');
  const e = cameras.extrinsics.length;
  if (e !== N * 16 && e !== N * 12) throw new Da3InputError(`extrinsics: ${e} numbers for ${N} views; expected ${N} x 4 x 4 (${N * 16}) or ${N} x 3 x 4 (${N * 12})`);
  if (cameras.intrinsics.length !== N * 9) throw new Da3InputError(`intrinsics: ${cameras.intrinsics.length} numbers for ${N} views; expected ${N} x 3 x 3 (${N * 9})`);
  const all = [...Array.from(cameras.extrinsics), ...Array.from(cameras.intrinsics)];
  if (!all.every(Number.isFinite)) throw new Da3InputError('cameras: extrinsics and intrinsics must be finite numbers');
}

/** 3x4 rows padded to 4x4. */
function as4x4(ext: ArrayLike<number>, N: number): Float64Array {
  const per = ext.length / N;
  const out = new Float64Array(N * 16);
  for (let v = 0; v < N; v++) {
    for (let i = 0; i < 12; i++) out[v * 16 + i] = ext[v * per + i];
    out[v * 16 + 12] = per === 16 ? ext[v * per + 12] : 0;
    out[v * 16 + 13] = per === 16 ? ext[v * per + 13] : 0;
    out[v * 16 + 14] = per === 16 ? ext[v * per + 14] : 0;
    out[v * 16 + 15] = per === 16 ? ext[v * per + 15] : 1;
  }
  return out;
}

/** `run` on the features of views [s0, s0 + HEAD_CHUNK), ..., each in its own scope, outputs concatenated along the views (one call when tapping). */
function headInChunks<T extends object>(feats: Da3Feature[], N: number, tapping: boolean, run: (f: Da3Feature[]) => T): T {
  if (tapping) return run(feats);
  // A scope per chunk: a chunk's maps are freed before the next one runs.
  if (N <= HEAD_CHUNK) return tf.tidy(() => run(feats) as unknown as tf.TensorContainer) as unknown as T;
  const parts: T[] = [];
  for (let s0 = 0; s0 < N; s0 += HEAD_CHUNK) {
    const n = Math.min(HEAD_CHUNK, N - s0);
    parts.push(tf.tidy(() => run(feats.map((f) => ({
      tokens: tf.slice(f.tokens, [s0, 0, 0], [n, f.tokens.shape[1], f.tokens.shape[2]]),
      camToken: tf.slice(f.camToken, [s0, 0], [n, f.camToken.shape[1]]),
    }))) as unknown as tf.TensorContainer) as unknown as T);
  }
  const out = {} as Record<string, tf.Tensor>;
  for (const key of Object.keys(parts[0])) out[key] = tf.concat(parts.map((p) => (p as Record<string, tf.Tensor>)[key]), 0);
  tf.dispose(parts as unknown as tf.TensorContainer);
  return out as T;
}

/** Sky threshold of _process_mono_sky_estimation (compute_sky_mask) and the quantile it fills the sky with. */
const SKY_THRESHOLD = 0.3;
const SKY_QUANTILE = 0.99;
/** The official code leaves depth alone unless more than this many pixels are sky and non-sky. */
const SKY_MIN_PIXELS = 10;

/**
 * _process_mono_sky_estimation: sky pixels (sky >= 0.3) of depth := the 0.99 quantile (linear) of
 * the non-sky depth, when both sets have more than 10 pixels. On the device (sort by topk, index
 * arithmetic as torch.quantile's in float32). The official code quantiles a random sample of
 * 100,000 non-sky pixels when there are more; this takes all of them (deterministic).
 */
function monoSky(depth: tf.Tensor4D, sky: tf.Tensor4D, tap?: Tap): tf.Tensor4D {
  const nonSky = tf.less(sky, SKY_THRESHOLD);
  tap?.('model.compute_sky_mask', tf.cast(nonSky, 'float32'));
  const P = depth.size;
  const nNon = tf.sum(tf.cast(nonSky, 'int32'));
  const flat = tf.reshape(tf.where(nonSky, depth, tf.fill(depth.shape, -Infinity)), [P]);
  const desc = tf.topk(flat, P, true).values; // non-sky values first, descending
  const n = tf.cast(nNon, 'float32');
  const rank = tf.mul(tf.sub(n, 1), Math.fround(SKY_QUANTILE)); // ranks = q * (n - 1), float32
  const lo = tf.floor(rank);
  const hi = tf.ceil(rank);
  const weight = tf.sub(rank, lo);
  const at = (r: tf.Tensor) => tf.gather(desc, tf.clipByValue(tf.cast(tf.sub(tf.sub(n, 1), r), 'int32'), 0, P - 1));
  const below = at(lo);
  const above = at(hi);
  const diff = tf.sub(above, below);
  // torch.lerp: start + w (end - start) below w = 0.5, else end - (end - start)(1 - w).
  const maxDepth = tf.reshape(tf.where(tf.less(weight, 0.5), tf.add(below, tf.mul(weight, diff)), tf.sub(above, tf.mul(diff, tf.sub(1, weight)))), [1]);
  tap?.('model.set_sky_regions_to_max_depth.args.max_depth', maxDepth);
  const apply = tf.logicalAnd(tf.greater(nNon, SKY_MIN_PIXELS), tf.greater(tf.sub(P, nNon), SKY_MIN_PIXELS));
  return tf.where(tf.logicalAnd(apply, tf.logicalNot(nonSky)), tf.broadcastTo(maxDepth, depth.shape), depth) as tf.Tensor4D;
}

/**
 * DepthAnything3Net.forward for one scene: input [1, N, 3, H, W] (normalised) -> the output dict.
 * Taps, when given, see every module's output in PyTorch layouts under the fixture keys.
 */
export function da3Forward(w: Da3Weights, cfg: Da3Config, input: tf.Tensor, opts: Da3ForwardOptions = {}): Da3Output {
  checkDa3Input(input, cfg, opts.cameras);
  const { tap } = opts;
  const mapTap: Tap | undefined = tap && ((k, t) => tap(k, t.rank === 4 ? tf.transpose(t, [0, 3, 1, 2]) : t));
  const taps: Da3Taps = { tap, mapTap };
  const [, N, , H, W] = input.shape;
  if (!weightBytes.has(w)) weightBytes.set(w, tensorBytes(w));
  checkDa3Limits(cfg, N, H, W, weightBytes.get(w)!);
  try {
    return forwardPass(w, cfg, input as tf.Tensor5D, opts, taps);
  } catch (e) {
    throw wasmAbortError(e, `running ${N} view${N > 1 ? 's' : ''} at ${H}x${W}`);
  }
}

const weightBytes = new WeakMap<Da3Weights, number>();

function forwardPass(w: Da3Weights, cfg: Da3Config, input: tf.Tensor5D, opts: Da3ForwardOptions, taps: Da3Taps): Da3Output {
  const { tap, cameras } = opts;
  const [, N, , H, W] = input.shape;
  const h = H / PATCH_SIZE;
  const ww = W / PATCH_SIZE;
  const mapTap = taps.mapTap;
  return tf.tidy(() => {
    const x = tf.reshape(tf.transpose(input, [0, 1, 3, 4, 2]), [N, H, W, 3]) as tf.Tensor4D;
    let camToken: tf.Tensor2D | undefined;
    if (cameras && w.cam_enc) {
      const enc = cameraPoseEncodings(as4x4(cameras.extrinsics, N), cameras.intrinsics, N, H, W);
      camToken = cameraEnc(tf.tensor2d(enc, [N, 9]), w.cam_enc, tap);
    }
    const feats = da3Encoder(x, w.backbone, cfg.net, opts.refViewStrategy ?? 'saddle_balanced', camToken, taps);
    const out: Da3Output = { depth: undefined as unknown as tf.Tensor4D };
    if (w.head.kind === 'dualdpt') {
      const head = w.head.w;
      const o = headInChunks(feats, N, Boolean(tap), (f) => dualDpt(f, h, ww, H, W, head, taps));
      const ray = tf.reshape(o.ray, [1, N, o.ray.shape[1], o.ray.shape[2], o.ray.shape[3]]);
      const rayConf = tf.reshape(o.rayConf, [1, N, o.rayConf.shape[1], o.rayConf.shape[2]]) as tf.Tensor4D;
      tap?.('model.head.ray', ray);
      tap?.('model.head.ray_conf', rayConf);
      out.depth = tf.reshape(o.depth, [1, N, H, W]);
      out.depthConf = tf.reshape(o.depthConf, [1, N, H, W]);
      out.ray = ray;
      out.rayConf = rayConf;
    } else {
      const head = w.head.w;
      const o = headInChunks(feats, N, Boolean(tap), (f) => dpt(f, h, ww, head, mapTap));
      const depth = tf.reshape(o.depth, [1, N, H, W]) as tf.Tensor4D;
      const sky = tf.reshape(o.sky, [1, N, H, W]) as tf.Tensor4D;
      tap?.('model.head.depth', depth);
      tap?.('model.sky', sky);
      out.depth = monoSky(depth, sky, tap);
      out.sky = sky;
    }
    if (w.cam_dec) {
      const enc = cameraDec(feats[feats.length - 1].camToken, w.cam_dec, tap);
      const { c2w, K } = poseEncodingToExtriIntri(enc, H, W); // [1, N, 3, 4], [1, N, 3, 3]
      tap?.('model.pose_encoding_to_extri_intri.0', c2w);
      out.extrinsics = affineInverse(c2w) as tf.Tensor4D;
      out.intrinsics = K;
    }
    tap?.('model.depth', out.depth);
    if (out.depthConf) tap?.('model.depth_conf', out.depthConf);
    if (out.extrinsics) tap?.('model.extrinsics', out.extrinsics);
    if (out.intrinsics) tap?.('model.intrinsics', out.intrinsics);
    return out as unknown as tf.TensorContainer;
  }) as unknown as Da3Output;
}
