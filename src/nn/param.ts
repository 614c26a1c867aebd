import * as tf from '@tensorflow/tfjs-core';

/**
 * A checkpoint tensor permuted to our layout, with the unpermuted copy freed at once. Loading
 * runs inside one tf.tidy (src/depth/depth_anything.ts), which would otherwise keep every unpermuted
 * copy until the end: twice the weights' size at the peak, and on wasm a heap that never shrinks
 * (ViT-L's 1.3 GB of weights left 2.3 GB of wasm heap behind, measured).
 */
export function permuted<R extends tf.Rank>(data: Float32Array, shape: number[], perm: number[]): tf.Tensor<R> {
  return tf.tidy(() => tf.transpose(tf.tensor(data, shape) as tf.Tensor, perm)) as tf.Tensor<R>;
}
