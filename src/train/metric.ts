/**
 * The official metric fine-tuning step (Depth-Anything-V2 metric_depth/train.py):
 *   pred = model(img); mask = (valid_mask == 1) & (depth >= min_depth) & (depth <= max_depth)
 *   loss = SiLogLoss(pred, depth, mask); backward; AdamW step; lr set for the next step.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MetricRecipe } from '../config/train';
import { forward } from '../depth/depth_anything';
import { siLogLoss } from './losses';
import { MetricSample, TrainDataError, flipSample } from './transforms';
import { Trainer, applyGradients, computeGradients, disposeKept } from './trainer';

export interface MetricBatch {
  /** NHWC normalised images [B, S, S, 3]. */
  image: Float32Array;
  /** Metres [B, S, S]. */
  depth: Float32Array;
  valid: Uint8Array;
  /** The pixels the loss sees. */
  lossMask: Uint8Array;
  shape: [number, number, number];
}

/** (valid_mask == 1) & (depth >= min_depth) & (depth <= max_depth). */
export function metricLossMask(depth: Float32Array, valid: Uint8Array, minDepth: number, maxDepth: number): Uint8Array {
  return Uint8Array.from(depth, (d, i) => (valid[i] === 1 && d >= minDepth && d <= maxDepth ? 1 : 0));
}

/** Stacks samples into a batch, flipped as one when `flip` (train.py's one coin per step). */
export function metricBatch(samples: MetricSample[], flip: boolean, recipe: Pick<MetricRecipe, 'minDepth' | 'maxDepth'>): MetricBatch {
  if (!samples.length) throw new TrainDataError('an empty batch');
  const s = (flip ? samples.map(flipSample) : samples);
  const { width: W, height: H } = s[0].image;
  for (const x of s) {
    if (x.image.width !== W || x.image.height !== H || x.depth.width !== W || x.depth.height !== H) {
      throw new TrainDataError(`batch items differ in size: ${x.image.width}x${x.image.height} and ${W}x${H}`);
    }
  }
  const B = s.length;
  const image = new Float32Array(B * H * W * 3);
  const depth = new Float32Array(B * H * W);
  const valid = new Uint8Array(B * H * W);
  s.forEach((x, b) => { image.set(x.image.data, b * H * W * 3); depth.set(x.depth.data, b * H * W); valid.set(x.valid, b * H * W); });
  return { image, depth, valid, lossMask: metricLossMask(depth, valid, recipe.minDepth, recipe.maxDepth), shape: [B, H, W] };
}

export interface StepResult {
  loss: number;
  /** The groups' learning rates the step ran with. */
  lrs: [number, number];
  /** The prediction [B, H, W]. */
  pred: Float32Array;
}

/**
 * One step on a batch. `inspect` sees the gradients (official names, PyTorch layout) before the
 * optimiser consumes them.
 */
export async function metricStep(t: Trainer, batch: MetricBatch, recipe: Pick<MetricRecipe, 'lambd'>, inspect?: (grads: Map<string, tf.Tensor>) => void | Promise<void>): Promise<StepResult> {
  const [B, H, W] = batch.shape;
  const x = tf.tensor4d(batch.image, [B, H, W, 3]);
  const target = tf.tensor3d(batch.depth, [B, H, W]);
  try {
    const { loss, grads, kept } = await computeGradients(t, (w) => {
      const pred = forward(w, t.cfg, x);
      return { loss: siLogLoss(pred, target, batch.lossMask, recipe.lambd), keep: { pred } };
    });
    let pred: Float32Array;
    try {
      pred = (await kept.pred.data()) as Float32Array;
    } finally {
      disposeKept(kept);
    }
    if (!Number.isFinite(loss)) {
      tf.dispose([...grads.values()]);
      throw new Error(`step ${t.step + 1}: the SiLog loss is ${loss}; the parameters are left as they were`);
    }
    try { await inspect?.(grads); } catch (e) { tf.dispose([...grads.values()]); throw e; }
    const lrs = applyGradients(t, grads);
    return { loss, lrs, pred: Float32Array.from(pred) };
  } finally {
    x.dispose();
    target.dispose();
  }
}
