/**
 * mmcv `MultiheadAttention` (batch_first) over torch.nn.MultiheadAttention: q = query + query_pos,
 * k = key + key_pos, v = value (no position), packed in_proj, q scaled by 1/sqrt(d) before q k^T,
 * a boolean attn_mask (true = not allowed) as -inf, softmax, out_proj; returns identity + out.
 */
import * as tf from '@tensorflow/tfjs-core';
import { LinearWeights, linear } from '../../nn/linear';
import { permuted } from '../../nn/param';
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
    w: permuted<tf.Rank.R2>(w.subarray(i * C * C, (i + 1) * C * C), [C, C], [1, 0]),
    b: tf.tensor1d(b.subarray(i * C, (i + 1) * C)),
  });
  const ow = sd.take(`${key}.attn.out_proj.weight`, [C, C]).data;
  const ob = sd.take(`${key}.attn.out_proj.bias`, [C]).data;
  return { q: part(0), k: part(1), v: part(2), out: { w: permuted<tf.Rank.R2>(ow, [C, C], [1, 0]), b: tf.tensor1d(ob) }, heads };
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
  w: MultiheadAttentionWeights, mask?: tf.Tensor3D, scoresPerGroup = SCORES_PER_GROUP,
): tf.Tensor3D {
  const [B, nq, C] = query.shape;
  const H = w.heads;
  const d = C / H;
  const q = splitHeads(linear(tf.add(query, queryPos), w.q), H);
  const k = splitHeads(linear(tf.add(key, keyPos), w.k), H);
  const v = splitHeads(linear(value, w.v), H);
  // Masked positions get -inf (as PyTorch's boolean attn_mask); adding 0 elsewhere is exact.
  const bias = mask ? tf.expandDims(tf.where(mask, tf.fill(mask.shape, -Infinity), tf.zeros(mask.shape)), 1) : undefined;
  const nk = key.shape[1];
  // Heads in groups, so the score maps stay small (200 queries x 16384 keys x 32 heads at ViT-L).
  const group = Math.max(1, Math.min(H, Math.floor(scoresPerGroup / (B * nq * nk))));
  const outs: tf.Tensor[] = [];
  for (let h0 = 0; h0 < H; h0 += group) {
    const n = Math.min(group, H - h0);
    outs.push(tf.tidy(() => {
      const sl = (t: tf.Tensor4D) => (n === H ? t : tf.slice(t, [0, h0, 0, 0], [-1, n, -1, -1]));
      let scores = tf.matMul(tf.div(sl(q), Math.sqrt(d)), sl(k), false, true); // [B, n, q, k]
      if (bias) scores = tf.add(scores, bias);
      return tf.matMul(tf.softmax(scores), sl(v));
    }));
  }
  const heads = outs.length === 1 ? outs[0] : tf.concat(outs, 1);
  const merged = tf.reshape(tf.transpose(heads, [0, 2, 1, 3]), [B, nq, C]);
  return tf.add(query, linear(merged, w.out)) as tf.Tensor3D;
}

const SCORES_PER_GROUP = 1 << 24;
