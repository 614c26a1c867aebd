import type * as tf from '@tensorflow/tfjs-core';

/**
 * Observes an intermediate tensor under the official module path that produced it
 * (`pretrained.blocks.3.attn`, `depth_head.scratch.refinenet2`). Maps arrive NHWC, tokens
 * [B, N, C]. The forward pass runs inside `tf.tidy`: a tap that keeps a tensor must clone and
 * `tf.keep` it. Used by the parity tool; the normal forward pass passes none.
 */
export type Tap = (key: string, t: tf.Tensor) => void;
