import * as tf from '@tensorflow/tfjs-core';

/**
 * log(1 + e) accurate for small e on every backend (tfjs-wasm's log1p is log(1 + e), which
 * loses all digits below e ~ 1e-7): Goldberg's log(u) e / (u - 1) with u = 1 + e rounded.
 */
export function log1p(e: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const u = tf.add(e, 1);
    const d = tf.sub(u, 1);
    return tf.where(tf.equal(d, 0), e, tf.div(tf.mul(tf.log(u), e), tf.where(tf.equal(d, 0), tf.onesLike(d), d)));
  });
}

/**
 * torch.nn.Softplus() (beta 1, threshold 20): x above 20, else log1p(exp(x)). Hand-written
 * because tf.softplus switches to x already above ~13.9 and computes log(1 + exp(x)), which
 * loses the small values the head divides by (p / (p0 + p1)).
 */
export function softplus(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.where(tf.greater(x, 20), x, log1p(tf.exp(tf.minimum(x, 20)))));
}
