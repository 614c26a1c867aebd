/**
 * mmcv `MultiheadAttention` (batch_first) over torch.nn.MultiheadAttention: q = query + query_pos,
 * k = key + key_pos, v = value (no position), packed in_proj, q scaled by 1/sqrt(d) before q k^T,
 * a boolean attn_mask (true = not allowed) as -inf, softmax, out_proj; returns identity + out.
 */
import * as tf from '@tensorflow/tfjs-core';
import { LinearWeights, linear } from '../../nn/linear';
import { StateDictReader } from '../../weights/state_dict';

export interface MultiheadAttentionWeights {
  q: LinearWeights;
  k: LinearWeights;
  v: LinearWeights;
  out: LinearWeights;
  heads: number;
}

export function loadMultiheadAttention(sd: StateDictReader, key: string, C: number, heads: number): MultiheadAttentionWeights {
  const w = sd.take(`${key}.attn.in_proj_weight`, [3 * C, C]).data;
  const b = sd.take(`${key}.attn.in_proj_bias`, [3 * C]).data;
  const part = (i: number): LinearWeights => ({
    w: tf.transpose(tf.tensor2d(w.subarray(i * C * C, (i + 1) * C * C), [C, C])),
    b: tf.tensor1d(b.subarray(i * C, (i + 1) * C)),
  });
  const ow = sd.take(`${key}.attn.out_proj.weight`, [C, C]).data;
  const ob = sd.take(`${key}.attn.out_proj.bias`, [C]).data;
  return { q: part(0), k: part(1), v: part(2), out: { w: tf.transpose(tf.tensor2d(ow, [C, C])), b: tf.tensor1d(ob) }, heads };
}

/** [B, n, C] -> [B, H, n, d] */
const splitHeads = (x: tf.Tensor, H: number): tf.Tensor4D => {
  const [B, n, C] = x.shape;
  return tf.transpose(tf.reshape(x, [B, n, H, C / H]), [0, 2, 1, 3]);
};

/**
 * query [B, q, C], key/value [B, k, C]; mask: bool [B, q, k] (true = masked), shared by all heads.
 */
export function multiheadAttention(
  query: tf.Tensor3D, key: tf.Tensor3D, value: tf.Tensor3D, queryPos: tf.Tensor3D, keyPos: tf.Tensor3D,
  w: MultiheadAttentionWeights, mask?: tf.Tensor3D,
): tf.Tensor3D {
  const [B, nq, C] = query.shape;
  const H = w.heads;
  const d = C / H;
  const q = splitHeads(linear(tf.add(query, queryPos), w.q), H);
  const k = splitHeads(linear(tf.add(key, keyPos), w.k), H);
  const v = splitHeads(linear(value, w.v), H);
  let scores = tf.matMul(tf.div(q, Math.sqrt(d)), k, false, true); // [B, H, q, k]
  if (mask) scores = tf.where(tf.expandDims(mask, 1), tf.fill(scores.shape, -Infinity), scores);
  const attn = tf.softmax(scores);
  const merged = tf.reshape(tf.transpose(tf.matMul(attn, v), [0, 2, 1, 3]), [B, nq, C]);
  return tf.add(query, linear(merged, w.out)) as tf.Tensor3D;
}
