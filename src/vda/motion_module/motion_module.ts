/**
 * `motion_module/motion_module.py`: TemporalModule -> TemporalTransformer3DModel (GroupNorm,
 * proj_in, one TemporalTransformerBlock, proj_out, residual) on NHWC maps [(B*T), h, w, C].
 * Each attention block also returns its input (the LayerNorm'd states of the new frames,
 * [(B*h*w), T, C]): the streaming cache.
 */
import * as tf from '@tensorflow/tfjs-core';
import { TemporalConfig } from '../../config/vda';
import { PassTensor, bandRows } from '../../backends/limits';
import { GroupNormWeights, groupNorm, groupNormApply, groupNormStats, loadGroupNorm } from '../../nn/group_norm';
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
 * What one band of `rows` map rows (of w pixels, B clips, f frames with the cached ones) holds at
 * once, for src/backends/limits.ts bandRows: every intermediate of a band lives until the band
 * ends, about 100 tensors of its tokens' width in all (measured with tf.profile: 446 MiB for the
 * 18432 tokens x 64 channels of a 32-frame path_3 at 126x224), and the attention scores.
 */
export function temporalBandTensors(key: string, B: number, f: number, rows: number, w: number, C: number, heads: number): PassTensor[] {
  return [
    { name: `${key} (band: its intermediates, about 100 token maps)`, shape: [100, B * f * rows * w, C] },
    { name: `${key} (band: attention scores)`, shape: [B * rows * w * heads, f, f] },
  ];
}

/**
 * TemporalModule on `x` [(B*T), h, w, C] (T frames per clip). `cached` (streaming): one tensor per
 * attention block, [(B*h*w), fc, C], the earlier frames' states. Without taps it runs in bands of
 * map rows when the whole map would not fit the backend (src/backends/limits.ts): after the
 * GroupNorm (statistics per frame over all its pixels, taken first) every step is a token's own or
 * one pixel's attention over the frames, so the bands compute the same values. `keepStates`
 * false: the streaming states are not kept (the offline pipeline).
 */
export function temporalModule(x: tf.Tensor4D, T: number, w: TemporalModuleWeights, cached?: tf.Tensor3D[], tap?: Tap, keepStates = true): TemporalModuleOutput {
  const [BT, h, wd, C] = x.shape;
  const f = T + (cached?.[0]?.shape[1] ?? 0);
  const heads = w.block.attention_blocks[0]?.heads ?? 1;
  const rows = tap ? h : bandRows((r) => temporalBandTensors(w.key, BT / T, f, r, wd, C, heads), h);
  if (rows >= h) {
    const r = temporalModuleWhole(x, T, w, cached, tap);
    if (!keepStates) { tf.dispose(r.states); r.states = []; }
    return r;
  }
  const B = BT / T;
  const stats = groupNormStats(x, w.norm.groups, w.groupNormEps);
  const outs: tf.Tensor4D[] = [];
  const bandStates: tf.Tensor4D[][] = [];
  for (let r0 = 0; r0 < h; r0 += rows) {
    const n = Math.min(rows, h - r0);
    // Pixels r0*w .. (r0+n)*w of each clip: a slice of the (b d) axis of the cache.
    const cut = (c: tf.Tensor3D) => tf.reshape(tf.slice(tf.reshape(c, [B, h * wd, c.shape[1], C]), [0, r0 * wd, 0, 0], [B, n * wd, -1, C]), [B * n * wd, c.shape[1], C]) as tf.Tensor3D;
    const band = tf.tidy(() => {
      const xb = tf.slice(x, [0, r0, 0, 0], [BT, n, wd, C]);
      const r = temporalTransformer(xb, groupNormApply(xb, w.norm, stats), T, w, cached?.map(cut));
      return { out: r.out, states: keepStates ? r.states.map((s) => tf.reshape(s, [B, n * wd, T, C]) as tf.Tensor4D) : (tf.dispose(r.states), []) };
    });
    outs.push(band.out);
    bandStates.push(band.states);
  }
  tf.dispose([stats.mean, stats.rstd]);
  const out = tf.concat(outs, 1) as tf.Tensor4D;
  tf.dispose(outs);
  const states = keepStates ? bandStates[0].map((_, k) => tf.tidy(() => tf.reshape(tf.concat(bandStates.map((b) => b[k]), 1), [B * h * wd, T, C]) as tf.Tensor3D)) : [];
  tf.dispose(bandStates as unknown as tf.Tensor[][]);
  return { out, states };
}

/** The module in one pass (taps see every step). */
function temporalModuleWhole(x: tf.Tensor4D, T: number, w: TemporalModuleWeights, cached?: tf.Tensor3D[], tap?: Tap): TemporalModuleOutput {
  const tt = `${w.key}.temporal_transformer`;
  const normed = groupNorm(x, w.norm, w.groupNormEps);
  tap?.(`${tt}.norm`, normed);
  const r = temporalTransformer(x, normed, T, w, cached, tap);
  if (tap) {
    const torch = toBcthw(r.out, T);
    tap(`${tt}.0`, torch);
    tap(`${w.key}.0`, torch);
  }
  return r;
}

/** Everything after the GroupNorm, on `x` [(B*T), h, w, C] (or a band of its rows) and its normalised `normed`. */
function temporalTransformer(x: tf.Tensor4D, normed: tf.Tensor4D, T: number, w: TemporalModuleWeights, cached?: tf.Tensor3D[], tap?: Tap): TemporalModuleOutput {
  const tt = `${w.key}.temporal_transformer`;
  const [BT, h, wd, C] = x.shape;
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
  return { out, states };
}
