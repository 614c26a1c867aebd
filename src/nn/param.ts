import * as tf from '@tensorflow/tfjs-core';
import { RawTensor } from '../weights/state_dict';

/**
 * A checkpoint tensor permuted to our layout, with the unpermuted copy freed at once. Loading
 * runs inside one tf.tidy (src/depth/depth_anything.ts), which would otherwise keep every unpermuted
 * copy until the end: twice the weights' size at the peak, and on wasm a heap that never shrinks
 * (ViT-L's 1.3 GB of weights left 2.3 GB of wasm heap behind, measured).
 */
export function permuted<R extends tf.Rank>(data: Float32Array, shape: number[], perm: number[]): tf.Tensor<R> {
  return tf.tidy(() => tf.transpose(tf.tensor(data, shape) as tf.Tensor, perm)) as tf.Tensor<R>;
}

/**
 * A checkpoint tensor as a tf.Tensor in its PyTorch shape: the trainer's variable when the state
 * dict holds one (src/train/params.ts; ops on it are then recorded for the gradients), else a new
 * tensor of the data.
 */
export function param<R extends tf.Rank>(raw: RawTensor): tf.Tensor<R> {
  return (raw.tensor ?? tf.tensor(raw.data, raw.shape as number[])) as unknown as tf.Tensor<R>;
}

/** `param` permuted to our layout (`permuted` for data, a recorded transpose for a variable). */
export function permutedParam<R extends tf.Rank>(raw: RawTensor, perm: number[]): tf.Tensor<R> {
  return raw.tensor ? tf.transpose(raw.tensor, perm) as tf.Tensor<R> : permuted<R>(raw.data, raw.shape as number[], perm);
}
