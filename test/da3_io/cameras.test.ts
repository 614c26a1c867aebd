import { affineInverse, da3AlignToInputExtrinsics, da3NormalizeExtrinsics, svd3, umeyamaSim3 } from '../../src/pipeline/da3/cameras';
import { readFileSync } from 'fs';
import * as path from 'path';
import { Da3InputError } from '../../src/pipeline/da3/errors';
import { Pcg64, seedSequenceState } from '../../src/pipeline/da3/numpy_random';

/** A rotation from a unit quaternion (w, x, y, z). */
function rot(q: [number, number, number, number]): number[] {
  const n = Math.hypot(...q);
  const [w, x, y, z] = q.map((v) => v / n);
  return [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w), 2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w), 2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)];
}

/** World-to-camera 4x4 of a camera with rotation R (c2w) at centre C. */
function w2c(r: number[], c: number[]): number[] {
  const pose = [r[0], r[1], r[2], c[0], r[3], r[4], r[5], c[1], r[6], r[7], r[8], c[2], 0, 0, 0, 1];
  return Array.from(affineInverse(pose));
}

const CENTRES = [[0, 0, 0], [1, 0.2, 0.1], [0.3, 1.5, -0.4], [-1, 0.5, 2], [2, -1, 1]];
const ROTS = CENTRES.map((_, i) => rot([1, 0.1 * i, -0.2 + 0.05 * i, 0.3]));

describe('known cameras', () => {
  test('normalisation: view 0 becomes the identity, camera distances have lower median 1', () => {
    const ext = CENTRES.flatMap((c, i) => w2c(ROTS[i], c));
    const out = da3NormalizeExtrinsics(ext, CENTRES.length);
    for (let i = 0; i < 16; i++) expect(out[i]).toBeCloseTo(i % 5 === 0 ? 1 : 0, 6);
    const dists = CENTRES.map((_, v) => {
      const c2w = affineInverse(out.subarray(v * 16, v * 16 + 16));
      return Math.hypot(c2w[3], c2w[7], c2w[11]);
    }).sort((a, b) => a - b);
    expect(dists[2]).toBeCloseTo(1, 5); // lower median of 5 values: the third
  });

  test('svd3 reconstructs its matrix with descending singular values', () => {
    const a = [2, -1, 0.5, 0.3, 4, 1, -2, 0.1, 3];
    const { d, u, v } = svd3(a);
    expect(d[0]).toBeGreaterThanOrEqual(d[1]);
    expect(d[1]).toBeGreaterThanOrEqual(d[2]);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
      expect(u[0][i] * d[0] * v[0][j] + u[1][i] * d[1] * v[1][j] + u[2][i] * d[2] * v[2][j]).toBeCloseTo(a[i * 3 + j], 12);
    }
  });

  test('Umeyama recovers a known Sim(3); depth is divided by its scale, input extrinsics kept', () => {
    const R = rot([0.9, 0.2, -0.3, 0.1]), T = [0.5, -2, 1], S = 2.5;
    const n = CENTRES.length;
    const input = CENTRES.flatMap((c, i) => w2c(ROTS[i], c));
    // Predicted cameras: the input ones moved by (R, T, S).
    const pred = CENTRES.flatMap((c, i) => {
      const rc = [0, 1, 2].map((k) => S * (R[k * 3] * c[0] + R[k * 3 + 1] * c[1] + R[k * 3 + 2] * c[2]) + T[k]);
      const rr = [0, 1, 2].flatMap((a) => [0, 1, 2].map((b) => R[a * 3] * ROTS[i][b] + R[a * 3 + 1] * ROTS[i][3 + b] + R[a * 3 + 2] * ROTS[i][6 + b]));
      return w2c(rr, rc).slice(0, 12);
    });
    const depth = Float32Array.from([2, 4, 8]);
    const out = da3AlignToInputExtrinsics(pred, input, depth, n);
    expect(out.s).toBeCloseTo(S, 5);
    Array.from(out.r).forEach((v, i) => expect(v).toBeCloseTo(R[i], 5));
    Array.from(out.t).forEach((v, i) => expect(v).toBeCloseTo(T[i], 5));
    expect(Array.from(out.depth)).toEqual([2, 4, 8].map((d) => Math.fround(d / Math.fround(out.s))));
    expect(Array.from(out.extrinsics)).toEqual(input.filter((_, i) => i % 16 < 12).map(Math.fround));
    // The aligned input cameras coincide with the predicted ones.
    for (let v = 0; v < n; v++) for (let i = 0; i < 12; i++) expect(out.alignedExtrinsics[v * 16 + i]).toBeCloseTo(pred[v * 12 + i], 4);
  });

  test('two camera centres: evo refuses (degenerate covariance), so do we, in one line', () => {
    const x = Float64Array.from([0, 0, 0, 1, 0, 0]);
    expect(() => umeyamaSim3(x, Float64Array.from([0, 0, 0, 2, 1, 0]), 2)).toThrow(Da3InputError);
    expect(() => umeyamaSim3(x, Float64Array.from([0, 0, 0, 2, 1, 0]), 2)).toThrow(/at least three views/);
  });

  test('ten or more views: RANSAC on numpy\'s default_rng(42), the same model as the official code', () => {
    const cases = JSON.parse(readFileSync(path.join(__dirname, 'data', 'ransac_cases.json'), 'utf8')) as Array<{ n: number; ext_in: number[]; ext_pred: number[]; r: number[]; t: number[]; s: number; plain_s: number }>;
    for (const c of cases) {
      const a = da3AlignToInputExtrinsics(c.ext_pred, c.ext_in, Float32Array.from([1]), c.n);
      // RANSAC's choice matters here: the plain fit's scale is 5-10 % away.
      expect(Math.abs(c.plain_s - c.s) / c.s).toBeGreaterThan(0.05);
      expect(Math.abs(a.s - c.s) / c.s).toBeLessThan(1e-6);
      Array.from(a.r).forEach((v, i) => expect(v).toBeCloseTo(c.r[i], 6));
      Array.from(a.t).forEach((v, i) => expect(v).toBeCloseTo(c.t[i], 5));
    }
  });

  test('numpy PCG64: SeedSequence(42), raw draws and choice(replace=False) as numpy 1.24 gives them', () => {
    expect(seedSequenceState(42, 8)).toEqual([3444837047, 2669555309, 2046530742, 3581440988, 1691623607, 2099784219, 1184028159, 862288241]);
    const g = new Pcg64(42);
    expect([g.next64(), g.next64(), g.next64()]).toEqual([14276969152011380360n, 8095878257575067585n, 15838336090824644132n]);
    const h = new Pcg64(42);
    expect([10, 11, 15, 23].map((n) => h.choiceNoReplace(n, Math.max(3, (n + 1) >> 1)))).toEqual(
      [[5, 3, 7, 0, 4], [3, 6, 10, 0, 7, 9], [5, 8, 12, 4, 3, 1, 10, 9], [10, 4, 1, 0, 2, 7, 13, 11, 17, 22, 18, 21]]);
  });
});
