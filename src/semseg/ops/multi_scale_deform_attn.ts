/**
 * mmcv `MultiScaleDeformableAttention` and its `multi_scale_deformable_attn_pytorch` core. The
 * core's `F.grid_sample(bilinear, padding_mode='zeros', align_corners=False)` is done with tfjs
 * ops: each sampling point's four neighbours are gathered from the flattened value map, weighted
 * by PyTorch's bilinear weights (nw = s*e, ne = s*w, sw = n*e, se = n*w) and dropped when outside
 * the map (zero padding). tfjs has no grid_sample; a gather is exact and works on every backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { LinearWeights, linear, loadLinear } from '../../nn/linear';
import { Tap } from '../../nn/tap';
import { StateDictReader } from '../../weights/state_dict';

export interface MsDeformAttnWeights {
  key: string;
  samplingOffsets: LinearWeights;
  attentionWeights: LinearWeights;
  valueProj: LinearWeights;
  outputProj: LinearWeights;
  heads: number;
  levels: number;
  points: number;
}

export function loadMsDeformAttn(sd: StateDictReader, key: string, C: number, heads: number, levels: number, points: number): MsDeformAttnWeights {
  return {
    key,
    samplingOffsets: loadLinear(sd, `${key}.sampling_offsets`, C, heads * levels * points * 2),
    attentionWeights: loadLinear(sd, `${key}.attention_weights`, C, heads * levels * points),
    valueProj: loadLinear(sd, `${key}.value_proj`, C, C),
    outputProj: loadLinear(sd, `${key}.output_proj`, C, C),
    heads,
    levels,
    points,
  };
}

/** Gathered rows per chunk of queries (rows x head dim floats): bounds memory at ViT-L sizes. */
export const GATHER_ROWS_PER_CHUNK = 1 << 21;

/**
 * Bilinear samples of one level. value: [BH * h * w, d] (head-major rows); x, y: pixel
 * coordinates [BH, q, P] already unnormalised ((g + 1) * size - 1) / 2. Returns [BH, q, P, d].
 */
function sampleLevel(value: tf.Tensor2D, x: tf.Tensor3D, y: tf.Tensor3D, h: number, w: number): tf.Tensor4D {
  const [BH, q, P] = x.shape;
  const d = value.shape[1];
  const x0 = tf.floor(x);
  const y0 = tf.floor(y);
  const wx = tf.sub(x, x0); // "w" in PyTorch's kernel: distance to the west neighbour
  const ex = tf.sub(1, wx);
  const ny = tf.sub(y, y0);
  const sy = tf.sub(1, ny);
  const base = tf.reshape(tf.mul(tf.range(0, BH, 1, 'int32'), tf.scalar(h * w, 'int32')), [BH, 1, 1]);
  const corners: Array<[number, number, tf.Tensor]> = [
    [0, 0, tf.mul(sy, ex)], // nw
    [1, 0, tf.mul(sy, wx)], // ne
    [0, 1, tf.mul(ny, ex)], // sw
    [1, 1, tf.mul(ny, wx)], // se
  ];
  const idx: tf.Tensor[] = [];
  const wts: tf.Tensor[] = [];
  for (const [dx, dy, wt] of corners) {
    const cx = tf.add(x0, dx);
    const cy = tf.add(y0, dy);
    const inside = tf.logicalAnd(tf.logicalAnd(tf.greaterEqual(cx, 0), tf.lessEqual(cx, w - 1)), tf.logicalAnd(tf.greaterEqual(cy, 0), tf.lessEqual(cy, h - 1)));
    const ix = tf.cast(tf.clipByValue(cx, 0, w - 1), 'int32');
    const iy = tf.cast(tf.clipByValue(cy, 0, h - 1), 'int32');
    idx.push(tf.add(base, tf.add(tf.mul(iy, tf.scalar(w, 'int32')), ix)));
    wts.push(tf.where(inside, wt, tf.zerosLike(wt)));
  }
  const index = tf.stack(idx, 3); // [BH, q, P, 4]
  const weight = tf.stack(wts, 3);
  const gathered = tf.reshape(tf.gather(value, tf.reshape(index, [-1])), [BH, q, P, 4, d]);
  return tf.sum(tf.mul(gathered, tf.expandDims(weight, 4)), 3) as tf.Tensor4D;
}

/**
 * multi_scale_deformable_attn_pytorch. value: [B, N, H, d]; shapes: per level [h, w] in value
 * order; loc: [B, q, H, L, P, 2] (x, y in 0..1); attn: [B, q, H, L, P] (softmaxed).
 * Returns [B, q, H * d].
 */
export function multiScaleDeformableAttnCore(value: tf.Tensor4D, shapes: Array<[number, number]>, loc: tf.Tensor, attn: tf.Tensor): tf.Tensor3D {
  const [B, , H, d] = value.shape;
  const [, q, , L, P] = loc.shape;
  const BH = B * H;
  // [B, N, H, d] -> [B*H*N, d], head-major, as value.flatten(2).transpose(1, 2).reshape(B*H, d, h, w)
  const vHead = tf.transpose(value, [0, 2, 1, 3]);
  const grids = tf.sub(tf.mul(loc, 2), 1); // sampling_grids = 2 * loc - 1
  // (B, q, H, L, P, 2) -> (B, H, q, L, P, 2)
  const g = tf.transpose(grids, [0, 2, 1, 3, 4, 5]);
  const aw = tf.reshape(tf.transpose(attn, [0, 2, 1, 3, 4]), [BH, q, L * P]);
  const chunk = Math.max(1, Math.floor(GATHER_ROWS_PER_CHUNK / (BH * P * 4 * L)));
  const outs: tf.Tensor[] = [];
  for (let q0 = 0; q0 < q; q0 += chunk) {
    const qn = Math.min(chunk, q - q0);
    outs.push(tf.tidy(() => {
      const sampled: tf.Tensor[] = [];
      let start = 0;
      for (let l = 0; l < L; l++) {
        const [h, w] = shapes[l];
        const vl = tf.reshape(tf.slice(vHead, [0, 0, start, 0], [B, H, h * w, d]), [BH * h * w, d]) as tf.Tensor2D;
        start += h * w;
        const gl = tf.reshape(tf.slice(g, [0, 0, q0, l, 0, 0], [B, H, qn, 1, P, 2]), [BH, qn, P, 2]);
        const gx = tf.reshape(tf.slice(gl, [0, 0, 0, 0], [BH, qn, P, 1]), [BH, qn, P]);
        const gy = tf.reshape(tf.slice(gl, [0, 0, 0, 1], [BH, qn, P, 1]), [BH, qn, P]);
        // grid_sampler_compute_source_index, align_corners=False: ((g + 1) * size - 1) / 2
        const x = tf.div(tf.sub(tf.mul(tf.add(gx, 1), w), 1), 2) as tf.Tensor3D;
        const y = tf.div(tf.sub(tf.mul(tf.add(gy, 1), h), 1), 2) as tf.Tensor3D;
        sampled.push(sampleLevel(vl, x, y, h, w));
      }
      const all = tf.concat(sampled, 2); // [BH, qn, L*P, d]
      const a = tf.slice(aw, [0, q0, 0], [BH, qn, L * P]);
      return tf.sum(tf.mul(all, tf.expandDims(a, 3)), 2); // [BH, qn, d]
    }));
  }
  const out = outs.length === 1 ? outs[0] : tf.concat(outs, 1);
  tf.dispose(outs.length === 1 ? [] : outs);
  // [B*H, q, d] -> [B, q, H*d]
  return tf.reshape(tf.transpose(tf.reshape(out, [B, H, q, d]), [0, 2, 1, 3]), [B, q, H * d]) as tf.Tensor3D;
}

/**
 * MultiScaleDeformableAttention.forward (batch_first, 2-d reference points, no padding mask):
 * returns identity + output_proj(core(...)).
 */
export function msDeformAttn(query: tf.Tensor3D, queryPos: tf.Tensor3D, refPoints: tf.Tensor, shapes: Array<[number, number]>, w: MsDeformAttnWeights, tap?: Tap): tf.Tensor3D {
  const [B, N, C] = query.shape;
  const { heads: H, levels: L, points: P } = w;
  const q = tf.add(query, queryPos);
  const value = linear(query, w.valueProj);
  tap?.(`${w.key}.value_proj`, value);
  const offsets = linear(q, w.samplingOffsets);
  tap?.(`${w.key}.sampling_offsets`, offsets);
  const logits = linear(q, w.attentionWeights);
  tap?.(`${w.key}.attention_weights`, logits);
  const attn = tf.reshape(tf.softmax(tf.reshape(logits, [B, N, H, L * P])), [B, N, H, L, P]);
  // offset_normalizer = (w, h) per level
  const norm = tf.tensor(shapes.flatMap(([h, ww]) => [ww, h]), [1, 1, 1, L, 1, 2]);
  const loc = tf.add(tf.reshape(refPoints, [B, N, 1, L, 1, 2]), tf.div(tf.reshape(offsets, [B, N, H, L, P, 2]), norm));
  const core = multiScaleDeformableAttnCore(tf.reshape(value, [B, N, H, C / H]) as tf.Tensor4D, shapes, loc, attn);
  const out = linear(core, w.outputProj);
  tap?.(`${w.key}.output_proj`, out);
  return tf.add(out, query) as tf.Tensor3D;
}
