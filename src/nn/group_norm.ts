import * as tf from '@tensorflow/tfjs-core';
import { StateDictReader } from '../weights/state_dict';

export interface GroupNormWeights {
  gamma: tf.Tensor1D;
  beta: tf.Tensor1D;
  groups: number;
}

export function loadGroupNorm(sd: StateDictReader, key: string, channels: number, groups: number): GroupNormWeights {
  return {
    gamma: tf.tensor1d(sd.take(`${key}.weight`, [channels]).data),
    beta: tf.tensor1d(sd.take(`${key}.bias`, [channels]).data),
    groups,
  };
}

/** Per sample and group of x [B, H, W, C]: the mean and 1/sqrt(biased variance + eps), [B, 1, G, 1] each. */
export function groupNormStats(x: tf.Tensor4D, groups: number, eps = 1e-5): { mean: tf.Tensor4D; rstd: tf.Tensor4D } {
  return tf.tidy(() => {
    const [B, H, W, C] = x.shape;
    const g = tf.reshape(x, [B, H * W, groups, C / groups]);
    const mean = tf.mean(g, [1, 3], true) as tf.Tensor4D;
    const variance = tf.mean(tf.square(tf.sub(g, mean)), [1, 3], true);
    return { mean, rstd: tf.rsqrt(tf.add(variance, eps)) as tf.Tensor4D };
  });
}

/**
 * GroupNorm's normalisation with given statistics, on x or any slice of its rows: the same
 * elementwise operations as one pass, so a map normalised in bands is the same bits.
 */
export function groupNormApply(x: tf.Tensor4D, p: GroupNormWeights, stats: { mean: tf.Tensor4D; rstd: tf.Tensor4D }): tf.Tensor4D {
  const [B, H, W, C] = x.shape;
  const g = tf.reshape(x, [B, H * W, p.groups, C / p.groups]);
  const normed = tf.reshape(tf.mul(tf.sub(g, stats.mean), stats.rstd), [B, H, W, C]);
  return tf.add(tf.mul(normed, p.gamma), p.beta) as tf.Tensor4D;
}

/** torch.nn.GroupNorm (eps 1e-5, biased variance over each group's channels and pixels) on NHWC maps. */
export function groupNorm(x: tf.Tensor4D, p: GroupNormWeights, eps = 1e-5): tf.Tensor4D {
  const stats = groupNormStats(x, p.groups, eps);
  const out = groupNormApply(x, p, stats);
  tf.dispose([stats.mean, stats.rstd]);
  return out;
}
