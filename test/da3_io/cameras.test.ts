import { affineInverse, da3AlignToInputExtrinsics, da3NormalizeExtrinsics, svd3, umeyamaSim3 } from '../../src/pipeline/da3/cameras';
import { Da3InputError } from '../../src/pipeline/da3/errors';

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

  test('ten or more views with cameras (official RANSAC on numpy random numbers) are refused clearly', () => {
    const n = 10;
    const e = Array.from({ length: n }, (_, i) => w2c(ROTS[i % 5], [i, i * i * 0.1, 1])).flat();
    expect(() => da3AlignToInputExtrinsics(e.filter((_, i) => i % 16 < 12), e, new Float32Array(1), n)).toThrow(/RANSAC/);
  });
});
