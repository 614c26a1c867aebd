/**
 * `motion_module/motion_module.py`: TemporalModule -> TemporalTransformer3DModel (GroupNorm,
 * proj_in, one TemporalTransformerBlock, proj_out, residual) on NHWC maps [(B*T), h, w, C].
 * Each attention block also returns its input (the LayerNorm'd states of the new frames,
 * [(B*h*w), T, C]): the streaming cache.
 */
import * as tf from '@tensorflow/tfjs-core';
import { TemporalConfig } from '../../config/vda';
import { GroupNormWeights, groupNorm, loadGroupNorm } from '../../nn/group_norm';
import { LayerNormWeights, layerNorm, loadLayerNorm } from '../../nn/layer_norm';
import { LinearWeights, linear, loadLinear } from '../../nn/linear';
import { Tap } from '../../nn/tap';
import { StateDictReader } from '../../weights/state_dict';
import { FeedForwardWeights, TemporalAttentionWeights, feedForward, loadFeedForward, loadTemporalAttention, temporalAttention } from './attention';

export interface TemporalTransformerBlockWeights {
  key: string;
  attention_blocks: TemporalAttentionWeights[];
  norms: LayerNormWeights[];
  ff: FeedForwardWeights;
  ff_norm: LayerNormWeights;
}

/** `head.motion_modules.M` (its `temporal_transformer`). */
export interface TemporalModuleWeights {
  key: string;
  norm: GroupNormWeights;
  proj_in: LinearWeights;
  block: TemporalTransformerBlockWeights;
  proj_out: LinearWeights;
  groupNormEps: number;
  layerNormEps: number;
}

export function loadTemporalModule(sd: StateDictReader, key: string, C: number, t: TemporalConfig): TemporalModuleWeights {
  const tt = `${key}.temporal_transformer`;
  const b = `${tt}.transformer_blocks.0`;
  const blocks = Array.from({ length: t.numAttentionBlocks }, (_, i) => i);
  return {
    key,
    norm: loadGroupNorm(sd, `${tt}.norm`, C, t.normNumGroups),
    proj_in: loadLinear(sd, `${tt}.proj_in`, C, C),
    block: {
      key: b,
      attention_blocks: blocks.map((i) => loadTemporalAttention(sd, `${b}.attention_blocks.${i}`, C, t.numAttentionHeads, t.maxLen)),
      norms: blocks.map((i) => loadLayerNorm(sd, `${b}.norms.${i}`, C)),
      ff: loadFeedForward(sd, `${b}.ff`, C, t.ffMult),
      ff_norm: loadLayerNorm(sd, `${b}.ff_norm`, C),
    },
    proj_out: loadLinear(sd, `${tt}.proj_out`, C, C),
    groupNormEps: t.groupNormEps,
    layerNormEps: t.layerNormEps,
  };
}

/** "(b f) d c -> (b d) f c" and back. */
const framesLast = (x: tf.Tensor3D, T: number): tf.Tensor3D => {
  const [BT, d, C] = x.shape;
  return tf.reshape(tf.transpose(tf.reshape(x, [BT / T, T, d, C]), [0, 2, 1, 3]), [(BT / T) * d, T, C]);
};
const framesFirst = (x: tf.Tensor3D, d: number): tf.Tensor3D => {
  const [Bd, T, C] = x.shape;
  return tf.reshape(tf.transpose(tf.reshape(x, [Bd / d, d, T, C]), [0, 2, 1, 3]), [(Bd / d) * T, d, C]);
};

/** NHWC [(B*T), h, w, C] -> PyTorch's module output layout [B, C, T, h, w] (for taps only). */
export function toBcthw(x: tf.Tensor4D, T: number): tf.Tensor {
  const [BT, h, w, C] = x.shape;
  return tf.transpose(tf.reshape(x, [BT / T, T, h, w, C]), [0, 4, 1, 2, 3]);
}

export interface TemporalModuleOutput {
  out: tf.Tensor4D;
  /** One per attention block: [(B*h*w), T, C], the states a streaming cache keeps. */
  states: tf.Tensor3D[];
}

/** Hidden values (GEGLU projections) one feed-forward chunk makes at most: 64 MiB of float32. */
const FF_CHUNK_ELEMENTS = 2 ** 24;

/**
 * The feed-forward, a token's own, over row chunks of x [B, n, C] (pixels): a 32-frame window at
 * 518 runs it on 260k tokens at path_3 (GEGLU hidden layers of 0.5 GB each), which filled wasm's
 * 4 GiB heap in one piece. The same products, in pieces.
 */
export function feedForwardInChunks(x: tf.Tensor3D, w: FeedForwardWeights, maxElements = FF_CHUNK_ELEMENTS): tf.Tensor {
  const [B, n, C] = x.shape;
  const hidden = w.proj.w.shape[1];
  const rows = Math.max(1, Math.floor(maxElements / (B * hidden)));
  if (rows >= n) return feedForward(x, w);
  const parts: tf.Tensor[] = [];
  for (let r0 = 0; r0 < n; r0 += rows) {
    const k = Math.min(rows, n - r0);
    parts.push(tf.tidy(() => feedForward(tf.slice(x, [0, r0, 0], [B, k, C]), w)));
  }
  const out = tf.concat(parts, 1);
  tf.dispose(parts);
  return out;
}

/**
 * TemporalModule on `x` [(B*T), h, w, C] (T frames per clip). `cached` (streaming): one tensor per
 * attention block, [(B*h*w), fc, C], the earlier frames' states.
 */
export function temporalModule(x: tf.Tensor4D, T: number, w: TemporalModuleWeights, cached?: tf.Tensor3D[], tap?: Tap): TemporalModuleOutput {
  const tt = `${w.key}.temporal_transformer`;
  const [BT, h, wd, C] = x.shape;
  const normed = groupNorm(x, w.norm, w.groupNormEps);
  tap?.(`${tt}.norm`, normed);
  let hidden = linear(tf.reshape(normed, [BT, h * wd, C]), w.proj_in) as tf.Tensor3D;
  tap?.(`${tt}.proj_in`, hidden);
  const b = w.block;
  const states: tf.Tensor3D[] = [];
  b.attention_blocks.forEach((attn, i) => {
    const n = layerNorm(hidden, b.norms[i], w.layerNormEps) as tf.Tensor3D;
    tap?.(`${b.key}.norms.${i}`, n);
    const input = framesLast(n, T);
    states.push(input);
    // A scope per attention block (unless recording): the keys and values of every cached frame are freed at once.
    const attend = () => tf.add(framesFirst(temporalAttention(input, attn, cached?.[i], tap), h * wd), hidden) as tf.Tensor3D;
    hidden = tap ? attend() : tf.tidy(attend);
  });
  const ffIn = layerNorm(hidden, b.ff_norm, w.layerNormEps);
  tap?.(`${b.key}.ff_norm`, ffIn);
  hidden = tf.add(tap ? feedForward(ffIn, b.ff, tap) : feedForwardInChunks(ffIn as tf.Tensor3D, b.ff), hidden) as tf.Tensor3D;
  tap?.(`${b.key}.0`, hidden);
  const projected = linear(hidden, w.proj_out);
  tap?.(`${tt}.proj_out`, projected);
  // The residual is the module's input, before the GroupNorm.
  const out = tf.add(tf.reshape(projected, [BT, h, wd, C]), x) as tf.Tensor4D;
  if (tap) {
    const torch = toBcthw(out, T);
    tap(`${tt}.0`, torch);
    tap(`${w.key}.0`, torch);
  }
  return { out, states };
}
