/**
 * The cpu backend's replacement kernels (src/backends/cpu_kernels.ts) against plain loops, for
 * every layout they take (transposes, broadcast batches, bias, relu, both broadcast directions)
 * and the ones they hand back to tfjs. The parity suites check them inside whole models.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backends/node';

/** A deterministic pseudo-random tensor. */
function rand(shape: number[], seed: number): tf.Tensor {
  let s = seed;
  const n = shape.reduce((p, d) => p * d, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    v[i] = s / 2147483648 - 0.5;
  }
  return tf.tensor(v, shape);
}

/** (batch..., M, K) x (batch..., K, N) in double precision, leading axes broadcast by index. */
function refMatMul(a: tf.Tensor, b: tf.Tensor, ta: boolean, tb: boolean): { shape: number[]; data: Float64Array } {
  const A = (ta ? tf.transpose(a, [...a.shape.keys()].map((i, _, all) => (i < all.length - 2 ? i : i === all.length - 2 ? all.length - 1 : all.length - 2))) : a);
  const B = (tb ? tf.transpose(b, [...b.shape.keys()].map((i, _, all) => (i < all.length - 2 ? i : i === all.length - 2 ? all.length - 1 : all.length - 2))) : b);
  const [M, K] = A.shape.slice(-2);
  const N = B.shape[B.shape.length - 1];
  const ba = A.size / (M * K);
  const bb = B.size / (K * N);
  const batch = Math.max(ba, bb);
  const av = A.dataSync();
  const bv = B.dataSync();
  const out = new Float64Array(batch * M * N);
  for (let t = 0; t < batch; t++) {
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += av[(t % ba) * M * K + i * K + k] * bv[(t % bb) * K * N + k * N + j];
        out[t * M * N + i * N + j] = s;
      }
    }
  }
  const lead = (ba >= bb ? A : B).shape.slice(0, -2);
  return { shape: [...lead, M, N], data: out };
}

function expectClose(got: tf.Tensor, want: { shape: number[]; data: ArrayLike<number> }): void {
  expect(got.shape).toEqual(want.shape);
  const g = got.dataSync();
  let worst = 0;
  for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i] - want.data[i]));
  expect(worst).toBeLessThan(1e-5);
}

beforeAll(async () => {
  await initBackend('cpu');
});

describe('cpu kernels', () => {
  test.each([
    [[5, 7], [7, 9], false, false],
    [[7, 5], [7, 9], true, false],
    [[5, 7], [9, 7], false, true],
    [[7, 5], [9, 7], true, true],
    [[3, 2, 5, 7], [3, 2, 7, 6], false, false],
    [[3, 5, 7], [7, 6], false, false], // one matrix for every batch
    [[1, 5, 7], [4, 6, 7], false, true],
    [[1, 1], [1, 1], false, false],
  ] as [number[], number[], boolean, boolean][])('matMul %j x %j (transposeA %s, transposeB %s)', (sa, sb, ta, tb) => {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const a = rand(sa, 1);
      const b = rand(sb, 2);
      expectClose(tf.matMul(a, b, ta, tb), refMatMul(a, b, ta, tb));
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  test('fused matMul with a bias and relu, as tfjs defines it', () => {
    tf.tidy(() => {
      const a = rand([6, 5], 3);
      const w = rand([5, 7], 4);
      const bias = rand([7], 5);
      const ref = refMatMul(a, w, false, false);
      const plus = Float64Array.from(ref.data, (v, i) => Math.fround(Math.fround(v) + bias.dataSync()[i % 7]));
      expectClose(tf.fused.matMul({ a, b: w, bias }), { shape: ref.shape, data: plus });
      expectClose(tf.fused.matMul({ a, b: w, bias, activation: 'relu' }), { shape: ref.shape, data: plus.map((v) => Math.max(v, 0)) });
      // Activations the replacement does not take go to tfjs's kernel, with the same result.
      const sig = tf.fused.matMul({ a, b: w, bias, activation: 'sigmoid' }).dataSync();
      plus.forEach((v, i) => expect(sig[i]).toBeCloseTo(1 / (1 + Math.exp(-v)), 5));
    });
  });

  test('binary ops broadcasting a bias over leading axes or a statistic over trailing axes: exact', () => {
    tf.tidy(() => {
      const x = rand([2, 3, 4], 6);
      const xv = x.dataSync();
      const cases: [tf.Tensor, (i: number) => number][] = [
        [rand([4], 7), (i) => i % 4], // [C] over [..., C]
        [rand([3, 4], 8), (i) => i % 12],
        [rand([2, 3, 1], 9), (i) => Math.floor(i / 4)], // [..., 1] over [..., C]
        [rand([2, 1, 1], 10), (i) => Math.floor(i / 12)],
        [rand([1, 3, 1], 11), (i) => Math.floor(i / 4) % 3], // neither: tfjs's own path
      ];
      for (const [y, idx] of cases) {
        const yv = y.dataSync();
        const ops: [(a: tf.Tensor, b: tf.Tensor) => tf.Tensor, (a: number, b: number) => number][] = [
          [tf.add, (a, b) => a + b], [tf.sub, (a, b) => a - b], [tf.mul, (a, b) => a * b], [tf.div, (a, b) => a / b],
        ];
        for (const [op, f] of ops) {
          const got = op(x, y);
          expect(got.shape).toEqual([2, 3, 4]);
          expect(Array.from(got.dataSync())).toEqual(Array.from(xv, (v, i) => Math.fround(f(v, yv[idx(i)]))));
          // The small side first: the same values, in the operand order.
          expect(Array.from(op(y, x).dataSync())).toEqual(Array.from(xv, (v, i) => Math.fround(f(yv[idx(i)], v))));
        }
      }
    });
  });
});
