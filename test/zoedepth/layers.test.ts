/**
 * The head's options the fixtures do not record (exp attractors, sum aggregation, bounded
 * centres of a hybrid head, torch's Softplus threshold), against the official formulas written
 * out in float64 here.
 */
import * as tf from '@tensorflow/tfjs-core';
import { boundedCenters, shiftCenters } from '../../src/zoedepth/layers/attractor';
import { logBinomial } from '../../src/zoedepth/layers/dist_layers';
import { softplus } from '../../src/zoedepth/layers/activations';
import { expectParity, useBackend } from '../helpers';

beforeAll(async () => {
  await useBackend('wasm');
});

/** attractor.py: dist(dx) with the functions' defaults (alpha 300, gamma 2: the layers pass neither). */
const inv = (dx: number) => dx / (1 + 300 * dx ** 2);
const exp = (dx: number) => Math.exp(-300 * Math.abs(dx) ** 2) * dx;

test.each([['inv', 'mean'], ['inv', 'sum'], ['exp', 'mean'], ['exp', 'sum']] as const)('attractors: %s type, %s kind', (type, kind) => {
  const A = [[0.11, 0.5, 0.93], [0.2, 0.21, 0.7]]; // 2 pixels x 3 attractors
  const b = [[0.1, 0.12, 0.3, 0.55, 0.9], [0.05, 0.2, 0.25, 0.6, 0.71]]; // 2 pixels x 5 bins
  const expected = b.map((centers, p) => centers.map((c) => {
    const d = A[p].map((a) => (type === 'inv' ? inv(a - c) : exp(a - c))).reduce((x, y) => x + y, 0);
    return c + (kind === 'mean' ? d / A[p].length : d);
  }));
  tf.tidy(() => {
    const out = shiftCenters(tf.tensor4d(A.flat(), [1, 1, 2, 3]), tf.tensor4d(b.flat(), [1, 1, 2, 5]),
      { attractorType: type, attractorKind: kind, minDepth: 1e-3, maxDepth: 10 });
    expectParity(out, tf.tensor4d(expected.flat(), [1, 1, 2, 5]), `${type} ${kind}`);
  });
});

test('bounded centres: scaled to [min, max], sorted ascending, clipped', () => {
  tf.tidy(() => {
    const out = boundedCenters(tf.tensor4d([0.5, -0.2, 1.3, 0.1], [1, 1, 1, 4]), { minDepth: 1, maxDepth: 11 });
    expect(Array.from(out.dataSync())).toEqual([1, 2, 6, 11]); // -1, 2, 6, 14 sorted, clipped
  });
});

test('log-binomial distribution over the bins (Stirling log C(K-1, k), clamps, temperature softmax)', () => {
  const K = 8;
  const cases = [[0.3, 1.5], [0.99995, 0.05], [0.00001, 40]]; // p, t (the clamps bite at both ends)
  const logBinom = (n: number, k: number) => { const ne = n + 1e-7; const ke = k + 1e-7; return ne * Math.log(ne) - ke * Math.log(ke) - (ne - ke) * Math.log(ne - ke + 1e-7); };
  const expected = cases.flatMap(([p, t]) => {
    const x = Math.min(Math.max(p, 1e-4), 1);
    const om = Math.min(Math.max(1 - p, 1e-4), 1);
    const y = Array.from({ length: K }, (_, k) => (logBinom(K - 1, k) + k * Math.log(x) + (K - 1 - k) * Math.log(om)) / t);
    const m = Math.max(...y);
    const e = y.map((v) => Math.exp(v - m));
    const s = e.reduce((a, v) => a + v, 0);
    return e.map((v) => v / s);
  });
  tf.tidy(() => {
    const out = logBinomial(tf.tensor4d(cases.map((c) => c[0]), [1, 1, 3, 1]), tf.tensor4d(cases.map((c) => c[1]), [1, 1, 3, 1]), K, K - 1);
    expectParity(out, tf.tensor4d(expected, [1, 1, 3, K]), 'log-binomial');
  });
});

test('Softplus as torch: log1p(exp(x)) up to 20, x above', () => {
  const xs = [-30, -12, -1, 0, 0.5, 13.95, 19.99, 20, 20.01, 50];
  tf.tidy(() => {
    const out = Array.from(softplus(tf.tensor1d(xs)).dataSync());
    xs.forEach((x, i) => {
      const want = x > 20 ? x : Math.log1p(Math.exp(x));
      expect(Math.abs(out[i] - want)).toBeLessThanOrEqual(Math.abs(want) * 2e-7 + 1e-45);
    });
  });
});
