import * as tf from '@tensorflow/tfjs-core';
import { attentionLayout } from '../backends/choices';
import { PassTensor, bandRows } from '../backends/limits';
import { ModelConfig } from '../config/depth';
import { LayerNormWeights, layerNorm, loadLayerNorm } from '../nn/layer_norm';
import { LinearWeights, linear, loadLinear } from '../nn/linear';
import { Tap } from '../nn/tap';
import { RopeTables, applyRope } from './rope';
import { StateDictReader } from '../weights/state_dict';

/**
 * dinov2 Attention: fused qkv Linear (rows q, k, v), softmax(q k^T / sqrt(d)) v, then proj.
 *
 * Two layouts, chosen once per backend when the weights are bound:
 * - `fused` (tensorflow, cpu): one qkv product, then all heads in two batched products.
 * - `perHead` (wasm): tfjs-backend-wasm sends a matMul to XNNPACK (SIMD, threaded) only when it
 *   is one [M, K] x [K, N] product without transposes; batched or transposed ones go to a scalar
 *   loop on one thread (12x slower), and its Slice copies its whole input out of the heap first.
 *   So each head gets its own q, k and v weights and everything is a plain 2D product with no
 *   slicing: q_h = x Wq_h + bq_h (pre-scaled by d^-0.5), k_h = x Wk_h, v_h = x Wv_h + bv_h, and
 *   k_h^T by a transpose of that [N, D] result (computing k_h^T = Wk_h x^T directly makes x^T the
 *   product's right operand, which XNNPACK repacks on every call: 2x slower per head, measured).
 *   The k bias is left out of the scores: it adds q_h . bk_h to every score of a row, which the
 *   softmax cancels exactly.
 */
export interface PerHeadWeights {
  q: LinearWeights[]; // [C, D] each, scaled by D^-0.5
  k: tf.Tensor2D[]; // [C, D] each, without k's bias
  kBias: tf.Tensor1D; // [C]; only to rebuild the qkv output for a tap
  v: LinearWeights[]; // [C, D] each
}

export interface AttentionWeights {
  key: string;
  qkv?: LinearWeights;
  heads?: PerHeadWeights;
  proj: LinearWeights;
  numHeads: number;
  /** Depth Anything 3 (qk_norm): LayerNorm(head_dim, eps 1e-5) on q and k per head. */
  qNorm?: LayerNormWeights;
  kNorm?: LayerNormWeights;
  /** Depth Anything 3: this block rotates q and k (2D RoPE) when given positions. */
  rope?: boolean;
}

/** Depth Anything 3's additions to a block's attention (both need q and k as the official code has them: fused layout). */
export interface AttentionOptions {
  qkNorm?: boolean;
  rope?: boolean;
}

/** nn.LayerNorm's default eps (the QK norms are built without one). */
const QK_NORM_EPS = 1e-5;

export function loadAttention(sd: StateDictReader, key: string, cfg: ModelConfig, layout = attentionLayout(tf.getBackend()), opts: AttentionOptions = {}): AttentionWeights {
  const C = cfg.embedDim;
  const H = cfg.numHeads;
  const proj = loadLinear(sd, `${key}.proj`, C, C);
  // Trainable weights (src/train) take the fused layout: the per-head split below is arithmetic
  // on the data, outside what the gradients can see.
  const trainable = sd.dict.get(`${key}.qkv.weight`)?.tensor !== undefined;
  if (opts.qkNorm || opts.rope) {
    // The per-head layout folds the scale into q and drops k's bias, which a norm or rotation of k forbids.
    const D = C / H;
    const extra = opts.qkNorm ? { qNorm: loadLayerNorm(sd, `${key}.q_norm`, D), kNorm: loadLayerNorm(sd, `${key}.k_norm`, D) } : {};
    return { key, qkv: loadLinear(sd, `${key}.qkv`, C, 3 * C), proj, numHeads: H, ...extra, ...(opts.rope ? { rope: true } : {}) };
  }
  if (layout === 'fused' || trainable) return { key, qkv: loadLinear(sd, `${key}.qkv`, C, 3 * C), proj, numHeads: H };
  const w = sd.take(`${key}.qkv.weight`, [3 * C, C]).data; // PyTorch [out, in]: rows q, k, v
  const b = sd.take(`${key}.qkv.bias`, [3 * C]).data;
  const D = C / H;
  const scale = D ** -0.5;
  // Rows [first, first + D) of W as a [C, D] tfjs weight (transposed), times `s`.
  const weight = (first: number, s: number): tf.Tensor2D => {
    const t = new Float32Array(C * D);
    for (let o = 0; o < D; o++) for (let i = 0; i < C; i++) t[i * D + o] = w[(first + o) * C + i] * s;
    return tf.tensor2d(t, [C, D]);
  };
  const columns = (first: number, s: number): LinearWeights => ({ w: weight(first, s), b: tf.tensor1d(b.slice(first, first + D).map((x) => x * s)) });
  const heads: PerHeadWeights = {
    q: Array.from({ length: H }, (_, h) => columns(h * D, scale)),
    k: Array.from({ length: H }, (_, h) => weight(C + h * D, 1)),
    kBias: tf.tensor1d(b.slice(C, 2 * C)),
    v: Array.from({ length: H }, (_, h) => columns(2 * C + h * D, 1)),
  };
  return { key, heads, proj, numHeads: H };
}

/**
 * The most score elements one attention product makes at once (64 MiB of float32): past it,
 * images go a few at a time (batches, Depth Anything 3's local blocks over many views) and
 * Depth Anything 3's global queries go in row chunks. 8 views at 504x504 are 10376 tokens, whose
 * full [10376, 10376] scores (411 MiB, twice with the softmax) grow with the square of the views;
 * chunked, the scores stay within this whatever the view count. Softmax is per row and each
 * image's scores are its own: the same products, in pieces.
 */
export const SCORE_CHUNK_ELEMENTS_DEFAULT = 2 ** 24;
let SCORE_CHUNK_ELEMENTS = SCORE_CHUNK_ELEMENTS_DEFAULT;
/** For tests: a smaller chunk makes tiny models take the chunked paths. Returns the previous value. */
export function setScoreChunkElements(n: number): number {
  const old = SCORE_CHUNK_ELEMENTS;
  SCORE_CHUNK_ELEMENTS = n;
  return old;
}

/** The score elements one product makes at most (for the memory estimates). */
export const scoreChunkElements = (): number => SCORE_CHUNK_ELEMENTS;

/** Query rows per chunk of one head's scores for `batch` sequences of N tokens (N: no chunking). */
export const queryRowsPerChunk = (batch: number, N: number): number => Math.max(1, Math.min(N, Math.floor(SCORE_CHUNK_ELEMENTS / (batch * N))));

/** [B, N, C] -> [B, N, C]. `rope`: the rotation tables of the N tokens (blocks with rope only). */
export function attention(x: tf.Tensor3D, w: AttentionWeights, tap?: Tap, rope?: RopeTables): tf.Tensor3D {
  const [B, N, C] = x.shape;
  const merged = w.heads ? perHead(x, w.heads, w.key, tap) : fused(x, w, w.key, tap, w.rope ? rope : undefined);
  return linear(tf.reshape(merged, [B, N, C]), w.proj) as tf.Tensor3D;
}

/** x [B, N, C] -> [B, N, H, D]: one qkv product, then all heads in two batched products. */
function fused(x: tf.Tensor3D, w: AttentionWeights, key: string, tap?: Tap, rope?: RopeTables): tf.Tensor {
  const [B, N, C] = x.shape;
  const H = w.numHeads;
  const D = C / H;
  const qkv = linear(x, w.qkv as LinearWeights);
  tap?.(`${key}.qkv`, qkv);
  const heads = tf.transpose(tf.reshape(qkv, [B, N, 3, H, D]), [2, 0, 3, 1, 4]); // (3, B, H, N, D)
  let [q, k, v] = tf.unstack(heads) as tf.Tensor4D[];
  if (w.qNorm && w.kNorm) {
    q = layerNorm(q, w.qNorm, QK_NORM_EPS) as tf.Tensor4D;
    tap?.(`${key}.q_norm`, q);
    k = layerNorm(k, w.kNorm, QK_NORM_EPS) as tf.Tensor4D;
    tap?.(`${key}.k_norm`, k);
  }
  if (rope) {
    q = applyRope(q, rope) as tf.Tensor4D;
    tap?.(`${key}.rope`, q);
    k = applyRope(k, rope) as tf.Tensor4D;
    tap?.(`${key}.rope#1`, k);
  }
  if (w.rope || w.qNorm) {
    // Depth Anything 3's global blocks attend over every view's tokens: one head's scores at a
    // time (freed before the next) instead of all heads' at once, and past SCORE_CHUNK_ELEMENTS
    // in row chunks of the queries (softmax is per row: the same products, row by row).
    const qs = tf.mul(q, D ** -0.5) as tf.Tensor4D;
    const perHeadWasm = attentionLayout(tf.getBackend()) === 'perHead';
    const rows = queryRowsPerChunk(perHeadWasm ? 1 : B, N);
    const byRows = (qh: tf.Tensor, attend: (qc: tf.Tensor) => tf.Tensor): tf.Tensor => {
      if (rows >= N) return attend(qh);
      const r = qh.rank;
      const parts: tf.Tensor[] = [];
      for (let r0 = 0; r0 < N; r0 += rows) {
        const n = Math.min(rows, N - r0);
        parts.push(tf.tidy(() => attend(tf.slice(qh, r === 2 ? [r0, 0] : [0, r0, 0], r === 2 ? [n, D] : [B, n, D]))));
      }
      const out = tf.concat(parts, r - 2);
      tf.dispose(parts);
      return out;
    };
    if (perHeadWasm) {
      // wasm: plain 2D products without transposes reach XNNPACK (see PerHeadWeights): k^T made once.
      const kT = tf.transpose(k, [0, 1, 3, 2]); // (B, H, D, N)
      const pick = (t: tf.Tensor, b: number, h: number, r: number, c: number) => tf.reshape(tf.slice(t, [b, h, 0, 0], [1, 1, r, c]), [r, c]) as tf.Tensor2D;
      const images = Array.from({ length: B }, (_, b) => tf.stack(Array.from({ length: H }, (_, h) => tf.tidy(() => {
        const kh = pick(kT, b, h, D, N);
        const vh = pick(v, b, h, N, D);
        return byRows(pick(qs, b, h, N, D), (qc) => tf.matMul(tf.softmax(tf.matMul(qc as tf.Tensor2D, kh)), vh));
      })), 1)); // (N, H, D)
      return tf.stack(images); // (B, N, H, D)
    }
    const perHeadCtx = Array.from({ length: H }, (_, h) => tf.tidy(() => {
      const pick = (t: tf.Tensor4D) => tf.reshape(tf.slice(t, [0, h, 0, 0], [B, 1, N, D]), [B, N, D]) as tf.Tensor3D;
      const kh = pick(k);
      const vh = pick(v);
      return byRows(pick(qs), (qc) => tf.matMul(tf.softmax(tf.matMul(qc as tf.Tensor3D, kh, false, true)), vh)); // (B, N, D)
    }));
    return tf.stack(perHeadCtx, 2); // (B, N, H, D)
  }
  // One group of images' attention: all heads' scores at once when they fit the backend (WebGPU
  // binding, WebGL texture), else one head and a band of query rows at a time. The softmax runs over
  // keys, which every chunk holds whole: the same sums.
  const attend = (qb: tf.Tensor4D, kb: tf.Tensor4D, vb: tf.Tensor4D): tf.Tensor => {
    const b = qb.shape[0];
    const { heads: g, rows } = attentionChunks(b, H, N);
    if (g === H && rows === N) {
      const scores = tf.matMul(tf.mul(qb, D ** -0.5), kb, false, true); // (b, H, N, N)
      return tf.transpose(tf.matMul(tf.softmax(scores), vb), [0, 2, 1, 3]); // (b, N, H, D)
    }
    const qs = tf.mul(qb, D ** -0.5) as tf.Tensor4D;
    const perHeadCtx = Array.from({ length: H }, (_, h) => tf.tidy(() => {
      const pick = (t: tf.Tensor4D, r0: number, n: number) => tf.reshape(tf.slice(t, [0, h, r0, 0], [b, 1, n, D]), [b, n, D]) as tf.Tensor3D;
      const kh = pick(kb, 0, N);
      const vh = pick(vb, 0, N);
      const parts: tf.Tensor3D[] = [];
      for (let r0 = 0; r0 < N; r0 += rows) {
        const n = Math.min(rows, N - r0);
        parts.push(tf.tidy(() => tf.matMul(tf.softmax(tf.matMul(pick(qs, r0, n), kh, false, true)), vh))); // (b, n, D)
      }
      return parts.length === 1 ? parts[0] : tf.concat(parts, 1); // (b, N, D)
    }));
    return tf.stack(perHeadCtx, 2); // (b, N, H, D)
  };
  // Many images at once (Depth Anything 3's views, a batch): past SCORE_CHUNK_ELEMENTS, a few
  // images' scores at a time (each image's are its own).
  const per = Math.max(1, Math.floor(SCORE_CHUNK_ELEMENTS / (H * N * N)));
  if (B <= per) return attend(q, k, v);
  const parts: tf.Tensor[] = [];
  for (let b0 = 0; b0 < B; b0 += per) {
    const n = Math.min(per, B - b0);
    const pick = (t: tf.Tensor4D) => tf.slice(t, [b0, 0, 0, 0], [n, H, N, D]);
    parts.push(tf.tidy(() => attend(pick(q), pick(k), pick(v))));
  }
  const out = tf.concat(parts, 0);
  tf.dispose(parts);
  return out;
}

/**
 * How the fused layout splits a group's attention scores: all heads at once when [B, H, N, N] fits
 * the active backend (src/backends/limits.ts bandRows), else one head and as many query rows as fit.
 */
export function attentionChunks(B: number, H: number, N: number): { heads: number; rows: number } {
  const scores = (heads: number, rows: number): PassTensor[] => [{ name: 'attention scores', shape: [B, heads, rows, N] }];
  if (bandRows((r) => scores(H, r), N) === N) return { heads: H, rows: N };
  return { heads: 1, rows: bandRows((r) => scores(1, r), N) };
}

/** x [B, N, C] -> [B, N, C], one image and one head at a time, as plain 2D products. */
function perHead(x: tf.Tensor3D, w: PerHeadWeights, key: string, tap?: Tap): tf.Tensor {
  const [B, N, C] = x.shape;
  const H = w.q.length;
  const D = C / H;
  const images: tf.Tensor[] = [];
  const qkvImages: tf.Tensor[] = [];
  for (let b = 0; b < B; b++) {
    const xb = tf.reshape(B === 1 ? x : tf.slice(x, [b, 0, 0], [1, N, C]), [N, C]);
    // A scope per head keeps one N x N score matrix alive at a time.
    const heads = Array.from({ length: H }, (_, h) => tf.tidy(() => {
      // Through linear(), so that wasm frees each kernel's heap copy once packed (backends/wasm_memory.ts).
      const q = linear(xb, w.q[h]); // (N, D), scaled
      const k = linear(xb, { w: w.k[h] }); // (N, D), without its bias
      const v = linear(xb, w.v[h]); // (N, D)
      const out = tf.matMul(tf.softmax(tf.matMul(q, tf.transpose(k))), v); // (N, D)
      return tap ? { out, q, k, v } : { out };
    }) as { out: tf.Tensor; q?: tf.Tensor; k?: tf.Tensor; v?: tf.Tensor });
    images.push(tf.concat(heads.map((p) => p.out), 1)); // (N, C), heads side by side
    if (tap) {
      // The official qkv output, for parity: q unscaled, k with its bias.
      const q = tf.div(tf.concat(heads.map((p) => p.q as tf.Tensor), 1), D ** -0.5);
      const k = tf.add(tf.concat(heads.map((p) => p.k as tf.Tensor), 1), w.kBias);
      qkvImages.push(tf.concat([q, k, tf.concat(heads.map((p) => p.v as tf.Tensor), 1)], 1));
    }
  }
  if (tap) tap(`${key}.qkv`, tf.stack(qkvImages)); // (B, N, 3C)
  return B === 1 ? images[0] : tf.stack(images); // (B, N, C)
}
