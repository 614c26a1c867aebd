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

/** torch.nn.GroupNorm (eps 1e-5, biased variance over each group's channels and pixels) on NHWC maps. */
export function groupNorm(x: tf.Tensor4D, p: GroupNormWeights, eps = 1e-5): tf.Tensor4D {
  const [B, H, W, C] = x.shape;
  const G = p.groups;
  const g = tf.reshape(x, [B, H * W, G, C / G]);
  const mean = tf.mean(g, [1, 3], true);
  const centered = tf.sub(g, mean);
  const variance = tf.mean(tf.square(centered), [1, 3], true);
  const normed = tf.reshape(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), [B, H, W, C]);
  return tf.add(tf.mul(normed, p.gamma), p.beta) as tf.Tensor4D;
}
