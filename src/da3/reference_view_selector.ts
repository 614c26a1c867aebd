/**
 * Reference-view selection (model/reference_view_selector.py): with THRESH_FOR_REF_SELECTION (3)
 * or more views and no known cameras, the encoder picks one view from the class tokens before
 * block alt_start - 1 and moves it first ([r, 0, .., r-1, r+1, ..]); the intermediate outputs go
 * back to the input order. On the device (an index tensor, no read), so GPU backends need no sync.
 */
import * as tf from '@tensorflow/tfjs-core';

export type RefViewStrategy = 'first' | 'middle' | 'saddle_balanced' | 'saddle_sim_range';
export const REF_VIEW_STRATEGIES: readonly RefViewStrategy[] = ['first', 'middle', 'saddle_balanced', 'saddle_sim_range'];

/** cls [S, C] (one scene) -> the reference view's index, int32 [1]. */
export function selectReferenceView(cls: tf.Tensor2D, strategy: RefViewStrategy): tf.Tensor1D {
  const [S, C] = cls.shape;
  if (S <= 1 || strategy === 'first') return tf.zeros([1], 'int32');
  if (strategy === 'middle') return tf.fill([1], Math.floor(S / 2), 'int32');
  if (strategy !== 'saddle_balanced' && strategy !== 'saddle_sim_range') {
    throw new Error(`unknown reference view selection strategy "${String(strategy)}": one of ${REF_VIEW_STRATEGIES.join(', ')}`);
  }
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.sum(tf.square(cls), -1, true)); // [S, 1]
    const feat = tf.div(cls, norm);
    const sim = tf.matMul(feat, feat, false, true); // [S, S]
    const simNoDiag = tf.sub(sim, tf.eye(S));
    if (strategy === 'saddle_sim_range') {
      return tf.reshape(tf.argMax(tf.sub(tf.max(simNoDiag, -1), tf.min(simNoDiag, -1))), [1]) as tf.Tensor1D;
    }
    const simScore = tf.div(tf.sum(simNoDiag, -1), S - 1);
    const featNorm = tf.reshape(norm, [S]);
    // torch.var: unbiased (divides by C - 1).
    const centred = tf.sub(feat, tf.mean(feat, -1, true));
    const featVar = tf.div(tf.sum(tf.square(centred), -1), C - 1);
    const normalize = (m: tf.Tensor) => {
      const lo = tf.min(m);
      return tf.div(tf.sub(m, lo), tf.add(tf.sub(tf.max(m), lo), 1e-8));
    };
    const off = (m: tf.Tensor) => tf.abs(tf.sub(normalize(m), 0.5));
    const balance = tf.add(tf.add(off(simScore), off(featNorm)), off(featVar));
    return tf.reshape(tf.argMin(balance), [1]) as tf.Tensor1D;
  });
}

/** Gather indices [S] putting view r first: position 0 <- r, 1..r <- 0..r-1, the rest unchanged. */
export function reorderIndices(ref: tf.Tensor1D, S: number): tf.Tensor1D {
  return tf.tidy(() => {
    const pos = tf.range(0, S, 1, 'int32');
    const shifted = tf.where(tf.logicalAnd(tf.greater(pos, 0), tf.lessEqual(pos, ref)), tf.sub(pos, tf.scalar(1, 'int32')), pos);
    return tf.where(tf.equal(pos, 0), tf.broadcastTo(ref, [S]), shifted) as tf.Tensor1D;
  });
}

/** The inverse: target t < r <- t + 1, t = r <- 0, t > r <- t. */
export function restoreIndices(ref: tf.Tensor1D, S: number): tf.Tensor1D {
  return tf.tidy(() => {
    const pos = tf.range(0, S, 1, 'int32');
    const shifted = tf.where(tf.less(pos, ref), tf.add(pos, tf.scalar(1, 'int32')), pos);
    return tf.where(tf.equal(pos, ref), tf.zerosLike(pos), shifted) as tf.Tensor1D;
  });
}
