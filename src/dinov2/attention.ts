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

/** [B, N, C] -> [B, N, C]. */
export function attention(x: tf.Tensor3D, w: AttentionWeights, tap?: Tap): tf.Tensor3D {
  const [B, N, C] = x.shape;
  const H = w.numHeads;
  const D = C / H;
  const qkv = linear(x, w.qkv);
  tap?.(`${w.key}.qkv`, qkv);
  const heads = tf.transpose(tf.reshape(qkv, [B, N, 3, H, D]), [2, 0, 3, 1, 4]); // (3, B, H, N, D)
  const [q, k, v] = tf.unstack(heads) as tf.Tensor4D[];
  const scores = tf.matMul(tf.mul(q, D ** -0.5), k, false, true); // (B, H, N, N)
  const ctx = tf.matMul(tf.softmax(scores), v); // (B, H, N, D)
  const merged = tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [B, N, C]);
  return linear(merged, w.proj) as tf.Tensor3D;
}
