import * as tf from '@tensorflow/tfjs-core';
import { StateDictReader } from '../weights/state_dict';
import { param } from './param';

export interface LayerNormWeights {
  gamma: tf.Tensor1D;
  beta: tf.Tensor1D;
}

export function loadLayerNorm(sd: StateDictReader, key: string, dim: number): LayerNormWeights {
  return {
    gamma: param<tf.Rank.R1>(sd.take(`${key}.weight`, [dim])),
    beta: param<tf.Rank.R1>(sd.take(`${key}.bias`, [dim])),
  };
}

/** LayerNorm over the last axis with the biased variance, as torch.nn.LayerNorm. */
export function layerNorm(x: tf.Tensor, p: LayerNormWeights, eps: number): tf.Tensor {
  const mean = tf.mean(x, -1, true);
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), -1, true);
  return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), p.gamma), p.beta);
}
