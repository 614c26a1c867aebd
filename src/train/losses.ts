/**
 * Training losses as functions of tensors (differentiable in the prediction / student features):
 * - SiLog (metric_depth/util/loss.py): d = log(t) - log(p) over the mask of the whole batch,
 *   sqrt(mean(d^2) - lambda mean(d)^2).
 * - The paper's affine-invariant loss (eqs. 1-3) per image and region: d^ = (d - t(d)) / s(d),
 *   t = median (torch.median: the lower middle value; its gradient goes to that one element),
 *   s = mean |d - t|, rho = mean |d^*^ - d^|; nothing detached.
 * - CutMix's area-weighted loss (eqs. 5-8) and feature alignment with a margin (eq. 9).
 * Masks and regions are data (Uint8Array, 1 = in); the selection is a multiply by the mask, so
 * shapes stay static and the prediction's gradient is exactly zero outside.
 */
import * as tf from '@tensorflow/tfjs-core';

export class LossInputError extends Error {
  constructor(message: string) { super(message); this.name = 'LossInputError'; }
}

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

export function checkSameShape(what: string, pred: tf.Tensor, target: tf.Tensor | { shape: readonly number[] }): void {
  if (pred.shape.length !== target.shape.length || pred.shape.some((d, i) => d !== target.shape[i])) {
    throw new LossInputError(`${what}: prediction ${fmt(pred.shape)} and target ${fmt(target.shape)} must have the same shape`);
  }
}

/** |x| whose gradient is sign(x), 0 at 0 (PyTorch's abs backward; tfjs's Abs gradient is -1 at 0). */
export function absTorch(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sign(x)); // tfjs's Sign has a zero gradient
}

/** SiLogLoss over the pixels where `mask` is 1 (pred, target, mask: the same shape, e.g. [B, H, W]). */
export function siLogLoss(pred: tf.Tensor, target: tf.Tensor, mask: Uint8Array, lambd = 0.5): tf.Scalar {
  checkSameShape('SiLog loss', pred, target);
  if (mask.length !== pred.size) throw new LossInputError(`SiLog loss: the mask has ${mask.length} values, the prediction ${fmt(pred.shape)} ${pred.size}`);
  let n = 0;
  for (const m of mask) n += m ? 1 : 0;
  if (n === 0) throw new LossInputError('SiLog loss: no valid pixel in the batch (every target outside the depth range or invalid)');
  return tf.tidy(() => {
    const m = tf.tensor(mask, pred.shape, 'bool');
    // log of 1 outside the mask: finite values (and gradients) there, then zeroed.
    const safe = (x: tf.Tensor) => tf.log(tf.where(m, x, tf.onesLike(x)));
    const d = tf.where(m, tf.sub(safe(target), safe(pred)), tf.zerosLike(pred));
    const mean = tf.div(tf.sum(d), n);
    const meanSq = tf.div(tf.sum(tf.square(d)), n);
    return tf.sqrt(tf.sub(meanSq, tf.mul(tf.square(mean), lambd))) as tf.Scalar;
  });
}

/**
 * The sum of a vector by pairwise halving (log2(n) adds): float32 error ~ log2(n) ulp instead of
 * n ulp for a sequential sum (tfjs-wasm's Sum accumulates in float32 in order; PyTorch's CPU sum
 * is cascaded).
 */
export function pairwiseSum(x: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    let v = tf.reshape(x, [-1]) as tf.Tensor1D;
    while (v.size > 1) {
      if (v.size % 2) v = tf.concat([v, tf.zeros([1])]) as tf.Tensor1D;
      const half = v.size / 2;
      v = tf.add(tf.slice(v, 0, half), tf.slice(v, half, half)) as tf.Tensor1D;
    }
    return tf.reshape(v, []) as tf.Scalar;
  });
}

/**
 * A scalar broadcast to `shape`, whose gradient (the sum of the incoming one) is a pairwise sum.
 * rho's median t and scale s are such scalars: the loss is flat along a uniform shift, so the
 * gradient that reaches t is a sum of thousands of terms cancelling to ~1% of their size, and a
 * sequential float32 sum left the median pixel's gradient 1e-3 off (measured on wasm).
 */
export function broadcastScalar(t: tf.Scalar, shape: number[]): tf.Tensor {
  const f = tf.customGrad(((x: tf.Tensor) => ({ value: tf.broadcastTo(x, shape), gradFunc: (dy: tf.Tensor) => pairwiseSum(dy) })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(t);
}

/** Where a region's median is: its index in the region's row-major masked vector and the flat pixel index. */
export interface MedianPick {
  position: number;
  pixel: number;
  count: number;
}

/** torch.median's element of `values` over `region`: the lower middle of the sorted values. */
export function medianPick(values: ArrayLike<number>, region: Uint8Array): MedianPick {
  const pixels: number[] = [];
  for (let i = 0; i < region.length; i++) if (region[i]) pixels.push(i);
  if (!pixels.length) throw new LossInputError('affine-invariant loss: an empty region (no valid pixel)');
  const order = pixels.map((_, k) => k).sort((a, b) => values[pixels[a]] - values[pixels[b]] || a - b);
  const position = order[(pixels.length - 1) >> 1];
  return { position, pixel: pixels[position], count: pixels.length };
}

/** t and s of one map over one region, and the normalised map d^ = (d - t) / s (zero outside the region). */
export interface AffineNorm {
  hat: tf.Tensor1D;
  t: tf.Scalar;
  s: tf.Scalar;
  median: MedianPick;
}

/** d^ of a flat map [HW] over a region (a 0/1 float tensor of the same size), median picked from `values`. */
export function affineNormalize(d: tf.Tensor1D, values: ArrayLike<number>, region: Uint8Array, regionT: tf.Tensor1D): AffineNorm {
  const median = medianPick(values, region);
  const onehot = new Float32Array(region.length);
  onehot[median.pixel] = 1;
  const t = tf.sum(tf.mul(d, tf.tensor1d(onehot))) as tf.Scalar; // exactly d[pixel]: the other terms are 0
  const centred = tf.sub(d, broadcastScalar(t, d.shape));
  const s = tf.div(tf.sum(tf.mul(absTorch(centred), regionT)), median.count) as tf.Scalar;
  return { hat: tf.mul(tf.div(centred, broadcastScalar(s, d.shape)), regionT) as tf.Tensor1D, t, s, median };
}

export interface RhoResult {
  loss: tf.Scalar;
  pred: AffineNorm;
  target: AffineNorm;
}

/**
 * rho over one region of one image (eq. 1): mean over the region of |d^*^ - d^|, both maps
 * normalised by their own median and mean absolute deviation over that region.
 */
export function affineInvariantLoss(pred: tf.Tensor1D, predValues: ArrayLike<number>, target: Float32Array, region: Uint8Array): RhoResult {
  if (pred.size !== target.length || region.length !== target.length) {
    throw new LossInputError(`affine-invariant loss: prediction [${pred.size}], target [${target.length}] and region [${region.length}] must have the same size`);
  }
  const regionT = tf.tensor1d(Float32Array.from(region));
  const p = affineNormalize(pred, predValues, region, regionT);
  const tt = affineNormalize(tf.tensor1d(target), target, region, regionT);
  const loss = tf.div(tf.sum(tf.mul(absTorch(tf.sub(tt.hat, p.hat)), regionT)), p.median.count) as tf.Scalar;
  return { loss, pred: p, target: tt };
}

/** CutMix's area weighting (eqs. 5-8): a rho_M + (1 - a) rho_{1-M}, a = |M| / (H W). */
export function cutmixWeighted(rhoM: tf.Scalar, rhoRest: tf.Scalar, a: number): tf.Scalar {
  return tf.add(tf.mul(rhoM, a), tf.mul(rhoRest, 1 - a)) as tf.Scalar;
}

export interface FeatureAlignment {
  loss: tf.Scalar;
  /** [B, N] cosine similarities. */
  cos: Float32Array;
  /** [B, N]: 1 where cos <= alpha (the token counts). */
  keep: Uint8Array;
}

/**
 * Eq. 9 with the margin: cos(f, f') per token, tokens with cos > alpha left out; the loss is the
 * mean of 1 - cos over the kept (image, token) pairs, 0 when none is kept. f: the student's
 * tokens (differentiable), f': the frozen encoder's ([B, N, C] both).
 */
export function featureAlignmentLoss(f: tf.Tensor3D, frozen: tf.Tensor3D, alpha: number): FeatureAlignment {
  checkSameShape('feature alignment', f, frozen);
  const cosT = tf.div(tf.sum(tf.mul(f, frozen), -1), tf.sqrt(tf.mul(tf.sum(tf.square(f), -1), tf.sum(tf.square(frozen), -1))));
  const cos = cosT.dataSync() as Float32Array;
  const keep = Uint8Array.from(cos, (c) => (c <= alpha ? 1 : 0));
  let n = 0;
  for (const k of keep) n += k;
  const loss = n === 0 ? tf.scalar(0) : tf.div(tf.sum(tf.mul(tf.sub(1, cosT), tf.tensor(keep, cosT.shape, 'float32'))), n) as tf.Scalar;
  return { loss, cos: Float32Array.from(cos), keep };
}
