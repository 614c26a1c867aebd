/**
 * 2D rotary position embedding of Depth Anything 3's DINOv2 (dinov2/layers/rope.py,
 * RotaryPositionEmbedding2D, frequency 100): the first half of each head's features rotates with
 * the token's row (y), the second half with its column (x); within a half, t cos + rot(t) sin with
 * rot([t1, t2]) = [-t2, t1]. The tables are built once per token layout in PyTorch's float32
 * arithmetic (exponents, powers, products and cos/sin rounded to float32).
 */
import * as tf from '@tensorflow/tfjs-core';

const f = Math.fround;

/** cos/sin per token [N, D] (D = head dim), y half then x half, for tokens at (y, x) positions. */
export interface RopeTables {
  cos: tf.Tensor2D;
  sin: tf.Tensor2D;
}

/** Integer (y, x) per token, row-major [N * 2]. */
export function ropeTables(positions: Int32Array, headDim: number, frequency = 100): RopeTables {
  if (headDim % 4 !== 0) throw new Error(`2D RoPE needs a head dim that is a multiple of 4; got ${headDim}`);
  const F = headDim / 2; // features per direction
  const invFreq = Array.from({ length: F / 2 }, (_, j) => f(1 / f(Math.pow(frequency, f((2 * j) / F)))));
  const N = positions.length / 2;
  const cos = new Float32Array(N * headDim);
  const sin = new Float32Array(N * headDim);
  for (let n = 0; n < N; n++) {
    for (let half = 0; half < 2; half++) {
      const p = positions[2 * n + half];
      for (let j = 0; j < F; j++) {
        const angle = f(p * invFreq[j % (F / 2)]); // angles cat'ed with themselves: [a, a]
        cos[n * headDim + half * F + j] = f(Math.cos(angle));
        sin[n * headDim + half * F + j] = f(Math.sin(angle));
      }
    }
  }
  return { cos: tf.tensor2d(cos, [N, headDim]), sin: tf.tensor2d(sin, [N, headDim]) };
}

/** t [..., N, D] -> t cos + rot(t) sin, per half (y, x). */
export function applyRope(t: tf.Tensor, r: RopeTables): tf.Tensor {
  const [a1, a2, b1, b2] = tf.split(t, 4, -1);
  const rotated = tf.concat([tf.neg(a2), a1, tf.neg(b2), b1], -1);
  return tf.add(tf.mul(t, r.cos), tf.mul(rotated, r.sin));
}
