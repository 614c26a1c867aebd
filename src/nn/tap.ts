import type * as tf from '@tensorflow/tfjs-core';

/**
 * Observes an intermediate tensor under the official module path that produced it
 * (`pretrained.blocks.3.attn`, `depth_head.scratch.refinenet2`). Maps arrive NHWC, tokens
 * [B, N, C]. The forward pass runs inside `tf.tidy`: a tap that keeps a tensor must clone and
 * `tf.keep` it. Used by the parity tool; the normal forward pass passes none.
 */
export type Tap = (key: string, t: tf.Tensor) => void;

/** A tap that hands keys starting with `from` on as `to` + the rest (a block reused under another parent). */
export function renameTap(tap: Tap | undefined, from: string, to: string): Tap | undefined {
  return tap && ((key, t) => tap(key.startsWith(from) ? to + key.slice(from.length) : key, t));
}

/**
 * A tap that numbers repeated calls as PyTorch's recorders do: the n-th output under one module
 * path (any `#k` the block gave it stripped) becomes `NAME#n` (n > 0), counted over every call
 * through this tap (a module run once per micro-batch: micro-batch k's outputs are `NAME#k`).
 */
export function countingTap(tap: Tap | undefined): Tap | undefined {
  if (!tap) return undefined;
  const counts = new Map<string, number>();
  return (key, t) => {
    const base = key.replace(/#\d+$/, '');
    const n = counts.get(base) ?? 0;
    counts.set(base, n + 1);
    tap(n ? `${base}#${n}` : base, t);
  };
}
