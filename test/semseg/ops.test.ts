/**
 * multi_scale_deformable_attn_pytorch against a direct transcription of grid_sample (bilinear,
 * align_corners=False, zero padding) in float64: points inside, on the border and far outside
 * the maps; plus the sine positional encoding's layout and the no-leak rule.
 */
import * as tf from '@tensorflow/tfjs-core';
import { multiScaleDeformableAttnCore } from '../../src/semseg/ops/multi_scale_deform_attn';
import { sinePositionalEncoding } from '../../src/semseg/positional_encoding';
import { segLogitsFromPredictions } from '../../src/semseg/mask2former_head';
import { multiheadAttention } from '../../src/semseg/transformer_decoder/multihead_attention';
import { compareArrays } from '../../src/verify/compare';
import { useBackend } from '../helpers';
import { rng } from '../../src/verify/bench';


/** grid_sample of one [h, w] map at normalised (gx, gy), align_corners=False, zeros outside. */
function gridSample(map: (y: number, x: number) => number, h: number, w: number, gx: number, gy: number): number {
  const x = ((gx + 1) * w - 1) / 2;
  const y = ((gy + 1) * h - 1) / 2;
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const at = (yy: number, xx: number) => (yy >= 0 && yy < h && xx >= 0 && xx < w ? map(yy, xx) : 0);
  const fx = x - x0;
  const fy = y - y0;
  return at(y0, x0) * (1 - fx) * (1 - fy) + at(y0, x0 + 1) * fx * (1 - fy) + at(y0 + 1, x0) * (1 - fx) * fy + at(y0 + 1, x0 + 1) * fx * fy;
}

describe.each(['cpu', 'wasm'] as const)('multi-scale deformable attention on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  it('equals grid_sample + weighted sum, zero padding included', () => {
    const r = rng(3);
    const B = 2, H = 2, d = 3, L = 2, P = 3, q = 5;
    const shapes: Array<[number, number]> = [[3, 4], [2, 2]];
    const N = shapes.reduce((a, [h, w]) => a + h * w, 0);
    const value = Float32Array.from({ length: B * N * H * d }, () => r() * 2 - 1);
    // Locations from -0.6 to 1.6: many points outside the maps (partly or fully).
    const loc = Float32Array.from({ length: B * q * H * L * P * 2 }, () => r() * 2.2 - 0.6);
    loc[0] = 0; loc[1] = 1; // exact corners
    const attn = Float32Array.from({ length: B * q * H * L * P }, () => r());
    const before = tf.memory().numTensors;
    const out = tf.tidy(() => multiScaleDeformableAttnCore(
      tf.tensor4d(value, [B, N, H, d]), shapes, tf.tensor(loc, [B, q, H, L, P, 2]), tf.tensor(attn, [B, q, H, L, P]),
    ));
    const got = out.dataSync();
    out.dispose();
    expect(tf.memory().numTensors).toBe(before);
    let maxErr = 0;
    for (let b = 0; b < B; b++) for (let qi = 0; qi < q; qi++) for (let hh = 0; hh < H; hh++) for (let c = 0; c < d; c++) {
      let sum = 0;
      let start = 0;
      for (let l = 0; l < L; l++) {
        const [h, w] = shapes[l];
        const map = (y: number, x: number) => value[((b * N + start + y * w + x) * H + hh) * d + c];
        for (let p = 0; p < P; p++) {
          const li = ((((b * q + qi) * H + hh) * L + l) * P + p);
          sum += attn[li] * gridSample(map, h, w, 2 * loc[li * 2] - 1, 2 * loc[li * 2 + 1] - 1);
        }
        start += h * w;
      }
      maxErr = Math.max(maxErr, Math.abs(got[((b * q + qi) * H + hh) * d + c] - sum));
    }
    expect(maxErr).toBeLessThan(1e-5);
  });

  it('sine positional encoding: [y features, x features], sin on even and cos on odd', () => {
    const pe = sinePositionalEncoding(2, 3, 4);
    const v = pe.arraySync() as number[][][];
    pe.dispose();
    const scale = 2 * Math.PI;
    const dimT = [1, 1, 100, 100]; // 10000^(2 floor(i/2) / 4)
    const y = (2 / (2 + 1e-6)) * scale; // row 1 of 2
    const x = (1 / (3 + 1e-6)) * scale; // column 0 of 3
    expect(v[1][0][0]).toBeCloseTo(Math.sin(y / dimT[0]), 6);
    expect(v[1][0][1]).toBeCloseTo(Math.cos(y / dimT[1]), 6);
    expect(v[1][0][2]).toBeCloseTo(Math.sin(y / dimT[2]), 6);
    expect(v[1][0][4]).toBeCloseTo(Math.sin(x / dimT[0]), 6);
    expect(v[1][0][7]).toBeCloseTo(Math.cos(x / dimT[3]), 6);
  });
});

describe.each(['cpu', 'wasm'] as const)('predict in bands of rows on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  it('equals the one-pass upsample (resizeBilinear) within float32 rounding, leaking nothing', () => {
    const r = rng(5);
    const B = 2, Q = 6, K = 4, h = 5, w = 7, H = 33, W = 45;
    const cls = tf.tensor3d(Float32Array.from({ length: B * Q * (K + 1) }, () => r() * 4 - 2), [B, Q, K + 1]);
    const mask = tf.tensor4d(Float32Array.from({ length: B * h * w * Q }, () => r() * 8 - 4), [B, h, w, Q]);
    const before = tf.memory().numTensors;
    const direct = segLogitsFromPredictions(cls, mask, [H, W]);
    const banded = segLogitsFromPredictions(cls, mask, [H, W], 5 * W * Q * B); // 5-row bands, a short last one
    const { relL2, maxAbs } = compareArrays(banded.dataSync() as Float32Array, direct.dataSync() as Float32Array);
    tf.dispose([direct, banded]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([cls, mask]);
    expect(relL2).toBeLessThan(1e-6);
    expect(maxAbs).toBeLessThan(1e-5);
  });
});

describe('masked multi-head attention', () => {
  beforeAll(() => useBackend('wasm'));

  it('heads in groups equal all heads at once; a masked key gets no weight', () => {
    const r = rng(9);
    const C = 8, H = 4, B = 2, nq = 3, nk = 5;
    const lin = (o: number, i: number) => ({ w: tf.tensor2d(Float32Array.from({ length: i * o }, () => r() - 0.5), [i, o]), b: tf.tensor1d(Float32Array.from({ length: o }, () => r() - 0.5)) });
    const w = { q: lin(C, C), k: lin(C, C), v: lin(C, C), out: lin(C, C), heads: H };
    const t = (n: number) => tf.tensor3d(Float32Array.from({ length: B * n * C }, () => r() * 2 - 1), [B, n, C]);
    const [query, key, qpos, kpos] = [t(nq), t(nk), t(nq), t(nk)];
    const maskBits = Array.from({ length: B * nq * nk }, (_, i) => i % 3 === 0);
    const mask = tf.tensor3d(maskBits.map(Number), [B, nq, nk], 'bool');
    const all = multiheadAttention(query, key, key, qpos, kpos, w, mask);
    const perHead = multiheadAttention(query, key, key, qpos, kpos, w, mask, 1);
    expect(compareArrays(perHead.dataSync() as Float32Array, all.dataSync() as Float32Array).maxAbs).toBe(0);
    // Key 0 is masked for query 0 of image 0 (i % 3 === 0) but not for query 1: changing that
    // key (and value) leaves query 0's output as it was and changes query 1's.
    const moved = tf.tensor3d((key.arraySync() as number[][][]).map((rows, bi) => rows.map((row, ki) => (bi === 0 && ki === 0 ? row.map((v) => v + 3) : row))));
    const again = multiheadAttention(query, moved, moved, qpos, kpos, w, mask);
    const a = all.arraySync() as number[][][];
    const g = again.arraySync() as number[][][];
    expect(maskBits[0]).toBe(true);
    expect(maskBits[nk]).toBe(false);
    expect(g[0][0]).toEqual(a[0][0]);
    expect(Math.max(...g[0][1].map((v, i) => Math.abs(v - a[0][1][i])))).toBeGreaterThan(1e-3);
    tf.dispose([moved, again]);
    tf.dispose([all, perHead, query, key, qpos, kpos, mask, w.q.w, w.q.b, w.k.w, w.k.b, w.v.w, w.v.b, w.out.w, w.out.b]);
  });
});
