/**
 * `motion_module/attention.py` as the temporal modules use it: `TemporalAttention` (a
 * CrossAttention over the frame axis at each pixel, with the sinusoidal `pos_encoder`) and the
 * GEGLU `FeedForward`. Tokens [(B*d), f, C] (d = pixels, f = frames).
 */
import * as tf from '@tensorflow/tfjs-core';
import { gelu } from '../../nn/activations';
import { LinearWeights, linear, loadLinear } from '../../nn/linear';
import { Tap } from '../../nn/tap';
import { StateDictReader } from '../../weights/state_dict';

export interface TemporalAttentionWeights {
  key: string;
  heads: number;
  to_q: LinearWeights;
  to_k: LinearWeights;
  to_v: LinearWeights;
  /** to_out.0 (to_out.1 is a Dropout). */
  to_out: LinearWeights;
  /** pos_encoder.pe [1, maxLen, C]: the checkpoint's buffer (sin/cos table in float32). */
  pe: tf.Tensor3D;
}

export function loadTemporalAttention(sd: StateDictReader, key: string, C: number, heads: number, maxLen: number): TemporalAttentionWeights {
  return {
    key,
    heads,
    to_q: loadLinear(sd, `${key}.to_q`, C, C, false),
    to_k: loadLinear(sd, `${key}.to_k`, C, C, false),
    to_v: loadLinear(sd, `${key}.to_v`, C, C, false),
    to_out: loadLinear(sd, `${key}.to_out.0`, C, C),
    pe: tf.tensor3d(sd.take(`${key}.pos_encoder.pe`, [1, maxLen, C]).data, [1, maxLen, C]),
  };
}

/** [N, f, C] -> [N, heads, f, C/heads] (reshape_heads_to_batch_dim, batch-major). */
function splitHeads(x: tf.Tensor3D, heads: number): tf.Tensor4D {
  const [N, f, C] = x.shape;
  return tf.transpose(tf.reshape(x, [N, f, heads, C / heads]), [0, 2, 1, 3]);
}

/**
 * Attention over frames. `x` [(B*d), f, C] holds the new frames' normalised states; `cached`
 * [(B*d), fc, C] (streaming) those of earlier frames, put first: positions 0..fc+f-1 of the
 * table, queries only for the new frames, keys and values over all.
 */
export function temporalAttention(x: tf.Tensor3D, w: TemporalAttentionWeights, cached?: tf.Tensor3D, tap?: Tap): tf.Tensor3D {
  const k = w.key;
  const all = cached ? tf.concat([cached, x], 1) : x;
  const [N, f, C] = all.shape;
  const maxLen = w.pe.shape[1];
  if (f > maxLen) throw new Error(`${k}: ${f} frames, but the position table has ${maxLen}`);
  const h = tf.add(all, tf.slice(w.pe, [0, 0, 0], [1, f, C])) as tf.Tensor3D;
  tap?.(`${k}.pos_encoder`, h);
  const fc = f - x.shape[1];
  const query = linear(fc ? tf.slice(h, [0, fc, 0], [N, f - fc, C]) : h, w.to_q) as tf.Tensor3D;
  tap?.(`${k}.to_q`, query);
  const key = linear(h, w.to_k) as tf.Tensor3D;
  tap?.(`${k}.to_k`, key);
  const value = linear(h, w.to_v) as tf.Tensor3D;
  tap?.(`${k}.to_v`, value);
  const dh = C / w.heads;
  // softmax(q k^T * dim_head^-0.5) v per head (CrossAttention._attention, baddbmm alpha = scale).
  const scores = tf.mul(tf.matMul(splitHeads(query, w.heads), splitHeads(key, w.heads), false, true), dh ** -0.5);
  const out4 = tf.matMul(tf.softmax(scores), splitHeads(value, w.heads)); // [N, heads, fq, dh]
  const fq = query.shape[1];
  const merged = tf.reshape(tf.transpose(out4, [0, 2, 1, 3]), [N, fq, C]) as tf.Tensor3D;
  tap?.(`${k}._attention`, merged);
  const out = linear(merged, w.to_out) as tf.Tensor3D;
  tap?.(`${k}.to_out.0`, out);
  return out;
}

/** FeedForward(dim, activation_fn='geglu'): net.0 = GEGLU (proj to 2 x inner, h * gelu(gate)), net.2 = Linear. */
export interface FeedForwardWeights {
  key: string;
  proj: LinearWeights;
  out: LinearWeights;
}

export function loadFeedForward(sd: StateDictReader, key: string, C: number, mult: number): FeedForwardWeights {
  const inner = C * mult;
  return { key, proj: loadLinear(sd, `${key}.net.0.proj`, C, 2 * inner), out: loadLinear(sd, `${key}.net.2`, inner, C) };
}

export function feedForward(x: tf.Tensor, w: FeedForwardWeights, tap?: Tap): tf.Tensor {
  const projected = linear(x, w.proj);
  tap?.(`${w.key}.net.0.proj`, projected);
  // chunk(2, dim=-1): the first half is the value, the second the gate (exact erf GELU).
  const [value, gate] = tf.split(projected, 2, -1);
  const geglu = tf.mul(value, gelu(gate));
  tap?.(`${w.key}.net.0`, geglu);
  const out = linear(geglu, w.out);
  tap?.(`${w.key}.net.2`, out);
  tap?.(w.key, out);
  return out;
}
