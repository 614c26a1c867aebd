import * as tf from '@tensorflow/tfjs-core';

/**
 * torch.nn.Softplus() (beta 1, threshold 20): x above 20, else log1p(exp(x)). Hand-written
 * because tf.softplus switches to x already above ~13.9 and computes log(1 + exp(x)), which
 * loses the small values the head divides by (p / (p0 + p1)).
 */
export function softplus(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.where(tf.greater(x, 20), x, tf.log1p(tf.exp(tf.minimum(x, 20)))));
}
