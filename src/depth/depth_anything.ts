/**
 * Depth Anything (V1, V2, V2 metric): `pretrained` (DINOv2) + `depth_head` (DPT), as the
 * official DepthAnythingV2 / DPT_DINOv2 modules compose them; V1 metric models add ZoeDepth's
 * metric-bins head (`zoe`, src/zoedepth) around the same DPT, stored under `core.core.`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig } from '../config/depth';
import { DinoV2Weights, IntermediateLayer, getIntermediateLayers, loadDinoV2 } from '../dinov2/vision_transformer';
import { DptHeadWeights, dptHead, loadDptHead } from '../dpt/dpt_head';
import { Tap } from '../nn/tap';
import { PassPart, checkGpuLimits, checkWasmMemory } from './limits';
import { checkWasmWeights, freeWeightsOncePacked, tensorBytes, wasmAbortError } from '../backends/wasm_memory';
import { packWhileBinding } from '../backends/wasm_pack';
import { StateDict, StateDictReader, WeightsError } from '../weights/state_dict';
import { ZoeDepthHeadWeights, loadZoeDepthHead, zoeDepthHead } from '../zoedepth/zoedepth_v1';
import { depthAnythingCore } from './dpt_dinov2';

export interface DepthAnythingWeights {
  pretrained: DinoV2Weights;
  depth_head: DptHeadWeights;
  /** V1 metric models: the ZoeDepth head. */
  zoe?: ZoeDepthHeadWeights;
}

/**
 * Keys the official checkpoints carry that inference never reads: DINOv2's `mask_token`
 * (training-time masking), and refinenet4's resConfUnit1 (refinenet4 has no skip input, yet the
 * module is constructed, so its weights are saved).
 */
export const IGNORED_KEYS: readonly RegExp[] = [
  /^pretrained\.mask_token$/,
  /^depth_head\.scratch\.refinenet4\.resConfUnit1\./,
  /\.num_batches_tracked$/,
];

/** The same for ZoeDepth checkpoints (DPT under `core.core.`), plus the log-binomial's arange buffer. */
export const ZOE_IGNORED_KEYS: readonly RegExp[] = [
  /^core\.core\.pretrained\.mask_token$/,
  /^core\.core\.depth_head\.scratch\.refinenet4\.resConfUnit1\./,
  /\.num_batches_tracked$/,
  // k_idx = arange(n_bins), a constant buffer rebuilt by the layer (the .pth reader leaves it out as int64).
  /^conditional_log_binomial\.log_binomial_transform\.k_idx$/,
];

/** A relative checkpoint bound as a ZoeDepth model, or the reverse: one line, not hundreds of missing keys. */
function checkLayout(sd: StateDict, cfg: ModelConfig, source: string): void {
  const zoeFile = sd.has('core.core.pretrained.pos_embed');
  const plainFile = sd.has('pretrained.pos_embed');
  if (cfg.zoe && !zoeFile && plainFile) {
    throw new WeightsError(`${source}: a relative Depth Anything checkpoint (pretrained.*, depth_head.*), not a V1 metric (ZoeDepth) one (core.core.*, seed_bin_regressor.*, attractors.*): use depth_anything_metric_depth_indoor.pt / _outdoor.pt for v1-metric-indoor / v1-metric-outdoor`);
  }
  if (!cfg.zoe && zoeFile) {
    throw new WeightsError(`${source}: a V1 metric (ZoeDepth) checkpoint (core.core.*, seed_bin_regressor.*, attractors.*), but the configuration is a ${cfg.maxDepth !== undefined ? 'V2 metric' : 'relative'} ${cfg.version} model: use the v1-metric-indoor or v1-metric-outdoor configuration`);
  }
}
/**
 * Binds a state dict (official key names, PyTorch shapes) to the model, strictly: one
 * WeightsError lists every missing, mis-shaped and unexpected key, and no tensor is left behind.
 */
export function bindWeights(sd: StateDict, cfg: ModelConfig, source: string): DepthAnythingWeights {
  checkLayout(sd, cfg, source);
  checkWasmWeights(sd, source);
  const reader = new StateDictReader(sd, source);
  const core = cfg.zoe ? 'core.core.' : '';
  const pack = packWhileBinding(sd); // wasm: each encoder block's kernels packed as it is bound
  const bound = wasmGuard(`binding ${source}`, () => tf.tidy(() => {
    const w: DepthAnythingWeights = { pretrained: loadDinoV2(reader, `${core}pretrained`, cfg, pack), depth_head: loadDptHead(reader, `${core}depth_head`, cfg) };
    if (cfg.zoe) w.zoe = loadZoeDepthHead(reader, cfg, cfg.zoe);
    reader.finish(cfg.zoe ? ZOE_IGNORED_KEYS : IGNORED_KEYS);
    return w as unknown as tf.TensorContainer;
  }) as unknown as DepthAnythingWeights);
  freeWeightsOncePacked(bound, sd); // wasm: the heap holds each weight once, packed
  return bound;
}

/** fn, with a wasm abort (out of memory) said in one line: see src/backends/wasm_memory.ts. */
export function wasmGuard<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw wasmAbortError(e, what);
  }
}

const weightBytes = new WeakMap<DepthAnythingWeights, number>();

/**
 * The active backend's limits for a pass on x: GPU bindings and textures (src/backends/limits.ts),
 * wasm's 4 GiB (src/backends/wasm_memory.ts). A clear error before the pass, not zeros or an abort in it.
 */
export function checkPassLimits(w: DepthAnythingWeights, cfg: ModelConfig, x: tf.Tensor4D, part: PassPart = 'model'): void {
  const [B, H, W] = x.shape;
  checkGpuLimits(cfg, H, W, B, part); // webgl/webgpu: fail clearly, not with zeros
  if (!weightBytes.has(w)) weightBytes.set(w, tensorBytes(w));
  checkWasmMemory(cfg, weightBytes.get(w)!, H, W, B, part);
}

export function disposeWeights(w: DepthAnythingWeights): void {
  tf.dispose(w as unknown as tf.TensorContainer);
}

/** Throws a clear error unless x is [B, H, W, 3] with H and W multiples of the patch size. */
export function checkInput(x: tf.Tensor, cfg: ModelConfig): asserts x is tf.Tensor4D {
  const p = cfg.patchSize;
  if (x.rank !== 4 || x.shape[3] !== 3) {
    throw new Error(`model input must be [batch, height, width, 3] (NHWC, normalised RGB); got [${x.shape.join(', ')}]`);
  }
  const [, H, W] = x.shape;
  if (H === 0 || W === 0 || H % p !== 0 || W % p !== 0) {
    throw new Error(`model input height and width must be positive multiples of the patch size ${p}; got ${H}x${W} (nearest: ${Math.max(p, Math.round(H / p) * p)}x${Math.max(p, Math.round(W / p) * p)})`);
  }
  if (x.dtype !== 'float32') throw new Error(`model input must be float32; got ${x.dtype}`);
}

export interface EncodedFeatures {
  patchH: number;
  patchW: number;
  /** The four normalised intermediate layers handed to the head. */
  layers: IntermediateLayer[];
}

/** The encoder part alone (the four intermediate layers), e.g. as a backbone for other tasks. */
export function encode(w: DepthAnythingWeights, cfg: ModelConfig, x: tf.Tensor4D, tap?: Tap): EncodedFeatures {
  checkInput(x, cfg);
  checkPassLimits(w, cfg, x, 'encoder');
  return wasmGuard(`encoding a ${x.shape[1]}x${x.shape[2]} input`, () => tf.tidy(() => {
    const layers = getIntermediateLayers(x, w.pretrained, cfg, tap);
    return { patchH: x.shape[1] / cfg.patchSize, patchW: x.shape[2] / cfg.patchSize, layers } as unknown as tf.TensorContainer;
  }) as unknown as EncodedFeatures);
}

/**
 * Normalised NHWC image [B, H, W, 3] -> depth [B, H, W]: relative (affine-invariant disparity,
 * >= 0) or, for metric models, metres (V1 metric: ZoeDepth's output for an input already
 * prepared by its core; see src/pipeline/zoe_infer.ts for the whole official pipeline).
 */
export function forward(w: DepthAnythingWeights, cfg: ModelConfig, x: tf.Tensor4D, tap?: Tap): tf.Tensor3D {
  checkInput(x, cfg);
  checkPassLimits(w, cfg, x);
  return wasmGuard(`running a ${x.shape[1]}x${x.shape[2]} input`, () => forwardPass(w, cfg, x, tap));
}

function forwardPass(w: DepthAnythingWeights, cfg: ModelConfig, x: tf.Tensor4D, tap?: Tap): tf.Tensor3D {
  if (cfg.zoe) {
    const z = cfg.zoe;
    if (!w.zoe) throw new Error('forward: a ZoeDepth configuration with weights bound without the ZoeDepth head');
    const head = w.zoe;
    return tf.tidy(() => {
      const { relDepth, hooks } = depthAnythingCore(x, w.pretrained, w.depth_head, cfg, tap);
      const out = zoeDepthHead(relDepth, hooks, head, z, tap);
      return tf.squeeze(out, [3]) as tf.Tensor3D;
    });
  }
  return tf.tidy(() => {
    const [B, H, W] = x.shape;
    const patchH = H / cfg.patchSize;
    const patchW = W / cfg.patchSize;
    const layers = getIntermediateLayers(x, w.pretrained, cfg, tap);
    const head = dptHead(layers, patchH, patchW, w.depth_head, tap); // [B, 14h, 14w, 1]
    // V2 applies a last ReLU (a no-op after the head's own); V1 first resizes to the input size,
    // which is the same size because H and W are multiples of 14; metric scales the sigmoid.
    const depth = cfg.maxDepth !== undefined ? tf.mul(head, cfg.maxDepth) : tf.relu(head);
    const out = tf.reshape(depth, [B, H, W]) as tf.Tensor3D;
    tap?.('output', out);
    return out;
  });
}
