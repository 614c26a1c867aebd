import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig } from '../config';
import { LinearWeights, linear, loadLinear } from '../nn/linear';
import { Tap } from '../nn/tap';
import { StateDictReader } from '../weights/state_dict';

/** dinov2 Attention: fused qkv Linear (rows q, k, v), softmax(q k^T / sqrt(d)) v, then proj. */
export interface AttentionWeights {
  key: string;
  qkv: LinearWeights;
  proj: LinearWeights;
  numHeads: number;
}

export function loadAttention(sd: StateDictReader, key: string, cfg: ModelConfig): AttentionWeights {
  const C = cfg.embedDim;
  return { key, qkv: loadLinear(sd, `${key}.qkv`, C, 3 * C), proj: loadLinear(sd, `${key}.proj`, C, C), numHeads: cfg.numHeads };
}

/**
 * How the attention products run, chosen once per backend. tfjs-backend-wasm sends a matMul to
 * XNNPACK (SIMD, threaded) only when it is one [M, K] x [K, N] product without transposes; a
 * batched or transposed one goes to a scalar loop on one thread (measured: 12x slower). So on
 * wasm each head is its own pair of 2D products; elsewhere one batched product over all heads.
 */
export type AttentionMode = 'per-head' | 'batched';
const MODES: Record<string, AttentionMode> = { wasm: 'per-head' };
export const attentionMode = (backend: string): AttentionMode => MODES[backend] ?? 'batched';

/** [B, N, C] -> [B, N, C]. */
export function attention(x: tf.Tensor3D, w: AttentionWeights, tap?: Tap): tf.Tensor3D {
  const [B, N, C] = x.shape;
  const qkv = linear(x, w.qkv) as tf.Tensor3D;
  tap?.(`${w.key}.qkv`, qkv);
  const merged = attentionMode(tf.getBackend()) === 'per-head' ? perHead(qkv, w.numHeads) : batched(qkv, w.numHeads);
  return linear(tf.reshape(merged, [B, N, C]), w.proj) as tf.Tensor3D;
}

/** qkv [B, N, 3C] -> [B, N, C], all heads in two batched products. */
function batched(qkv: tf.Tensor3D, H: number): tf.Tensor {
  const [B, N, C3] = qkv.shape;
  const D = C3 / 3 / H;
  const heads = tf.transpose(tf.reshape(qkv, [B, N, 3, H, D]), [2, 0, 3, 1, 4]); // (3, B, H, N, D)
  const [q, k, v] = tf.unstack(heads) as tf.Tensor4D[];
  const scores = tf.matMul(tf.mul(q, D ** -0.5), k, false, true); // (B, H, N, N)
  const ctx = tf.matMul(tf.softmax(scores), v); // (B, H, N, D)
  return tf.transpose(ctx, [0, 2, 1, 3]); // (B, N, H, D)
}

/** qkv [B, N, 3C] -> [B, N, C], one image and one head at a time, as plain 2D products. */
function perHead(qkv: tf.Tensor3D, H: number): tf.Tensor {
  const [B, N, C3] = qkv.shape;
  const C = C3 / 3;
  const D = C / H;
  const images: tf.Tensor[] = [];
  for (let b = 0; b < B; b++) {
    const rows = tf.reshape(tf.slice(qkv, [b, 0, 0], [1, N, C3]), [N, C3]);
    const q = tf.mul(tf.slice(rows, [0, 0], [N, C]), D ** -0.5); // (N, C)
    const kT = tf.transpose(tf.slice(rows, [0, C], [N, C])); // (C, N): head h is rows h*D.. (contiguous)
    const v = tf.slice(rows, [0, 2 * C], [N, C]); // (N, C)
    const heads: tf.Tensor[] = [];
    for (let h = 0; h < H; h++) {
      // A scope per head keeps one N x N score matrix alive at a time.
      heads.push(tf.tidy(() => {
        const scores = tf.matMul(tf.slice(q, [0, h * D], [N, D]), tf.slice(kT, [h * D, 0], [D, N])); // (N, N)
        return tf.matMul(tf.softmax(scores), tf.slice(v, [0, h * D], [N, D])); // (N, D)
      }));
    }
    images.push(tf.concat(heads, 1)); // (N, C), heads side by side as in the batched layout
  }
  return tf.stack(images); // (B, N, C)
}
