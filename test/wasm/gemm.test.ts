/**
 * The relaxed-SIMD matrix-product kernel (src/backends/wasm_gemm.ts) against a float64 reference:
 * every shape class it takes (edge tiles in rows and columns, batches, one side unbatched, B
 * transposed, bias, relu, products on the calling thread and on the pool), convolutions (padding,
 * strides, 'same', 1x1), the ones it hands back to tfjs's kernels, and its binary against its source.
 */
import { execFile, execFileSync } from 'child_process';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { setWasmGemm } from '../../src/backends/choices';
import { multipliedByGemm, wasmGemmThreads } from '../../src/backends/wasm_gemm';
import { useBackend } from '../helpers';

beforeAll(async () => {
  await useBackend('wasm');
});
afterEach(() => setWasmGemm('wasm', true));

/** Seeded values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

interface Case { a: number[]; b: number[]; transB?: boolean; bias?: boolean; relu?: boolean }

/** The product in float64: a [..., M, K] x b [..., K, N] (or [..., N, K] transposed), batch dims broadcast as tfjs does here. */
function reference(c: Case, A: Float32Array, B: Float32Array, bias: Float32Array | undefined): Float64Array {
  const [M, K] = c.a.slice(-2);
  const N = c.transB ? c.b[c.b.length - 2] : c.b[c.b.length - 1];
  const nA = c.a.slice(0, -2).reduce((x, y) => x * y, 1);
  const nB = c.b.slice(0, -2).reduce((x, y) => x * y, 1);
  const n = Math.max(nA, nB);
  const out = new Float64Array(n * M * N);
  for (let i = 0; i < n; i++) {
    const ao = (nA === 1 ? 0 : i) * M * K;
    const bo = (nB === 1 ? 0 : i) * K * N;
    for (let m = 0; m < M; m++) for (let j = 0; j < N; j++) {
      let s = bias ? bias[j] : 0;
      for (let k = 0; k < K; k++) s += A[ao + m * K + k] * B[bo + (c.transB ? j * K + k : k * N + j)];
      out[(i * M + m) * N + j] = c.relu ? Math.max(0, s) : s;
    }
  }
  return out;
}

function check(c: Case, seed: number): void {
  const before = tf.memory().numTensors;
  const A = values(c.a.reduce((x, y) => x * y, 1), seed);
  const B = values(c.b.reduce((x, y) => x * y, 1), seed + 1);
  const N = c.transB ? c.b[c.b.length - 2] : c.b[c.b.length - 1];
  const bias = c.bias ? values(N, seed + 2) : undefined;
  const a = tf.tensor(A, c.a);
  const b = tf.tensor(B, c.b);
  const bt = bias ? tf.tensor1d(bias) : undefined;
  const y = c.bias || c.relu
    ? tf.fused.matMul({ a, b, bias: bt, transposeB: c.transB, activation: c.relu ? 'relu' : 'linear' })
    : tf.matMul(a, b, false, c.transB);
  expect(multipliedByGemm(b.dataId)).toBe(true);
  expect(y.shape).toEqual([...(c.a.length >= c.b.length ? c.a : c.b).slice(0, -2), c.a[c.a.length - 2], N]);
  const got = y.dataSync();
  const want = reference(c, A, B, bias);
  expect(got.length).toBe(want.length);
  let worst = 0;
  const K = c.a[c.a.length - 1];
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  // float32 products of K terms in [-1, 1): rounding well under K * 2^-24 * K.
  expect(worst).toBeLessThan(4e-7 * K);
  tf.dispose([a, b, y, ...(bt ? [bt] : [])]);
  expect(tf.memory().numTensors).toBe(before);
}

test('installed, with the wasm backend\'s threads', () => {
  expect(wasmGemmThreads()).toBeGreaterThanOrEqual(1);
});

// M and N not multiples of the 4 x 8 tile; K of 1 and odd; ViT-sized ones take the thread pool.
const CASES: [string, Case][] = [
  ['1 x 1 x 1', { a: [1, 1], b: [1, 1] }],
  ['edge rows and columns', { a: [7, 5], b: [5, 13] }],
  ['one row', { a: [1, 33], b: [33, 9] }],
  ['bias and relu', { a: [6, 17], b: [17, 24], bias: true, relu: true }],
  ['bias, no relu, B transposed', { a: [9, 11], b: [21, 11], transB: true, bias: true }],
  ['B transposed, edge panel', { a: [45, 64], b: [131, 64], transB: true }],
  ['batched', { a: [3, 10, 6], b: [3, 6, 11] }],
  ['batched, B unbatched', { a: [2, 2, 5, 8], b: [8, 19], bias: true }],
  ['A unbatched, B batched', { a: [5, 8], b: [4, 8, 3] }],
  ['A 2D, B of batch 1 (output keeps the batch axis)', { a: [5, 8], b: [1, 8, 3] }],
  ['ViT-S fc1, a few rows (pool)', { a: [37, 384], b: [384, 1536], bias: true }],
  ['ViT-S attention scores (pool)', { a: [1, 101, 64], b: [1, 101, 64], transB: true }],
];
test.each(CASES)('%s: equal to the float64 product', (_, c) => {
  check(c, 11);
});

interface ConvCase { x: [number, number, number, number]; k: number; outC: number; stride: number; pad: number | 'same' | 'valid'; bias?: boolean; relu?: boolean }

/** NHWC x HWIO in float64, PyTorch-style symmetric padding `p` (or tfjs's 'same'/'valid'). */
function convReference(c: ConvCase, X: Float32Array, F: Float32Array, bias: Float32Array | undefined, OH: number, OW: number, top: number, left: number): Float64Array {
  const [B, H, W, C] = c.x;
  const out = new Float64Array(B * OH * OW * c.outC);
  for (let b = 0; b < B; b++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) for (let o = 0; o < c.outC; o++) {
    let s = bias ? bias[o] : 0;
    for (let ty = 0; ty < c.k; ty++) for (let tx = 0; tx < c.k; tx++) {
      const y = oy * c.stride - top + ty;
      const x = ox * c.stride - left + tx;
      if (y < 0 || y >= H || x < 0 || x >= W) continue;
      for (let i = 0; i < C; i++) s += X[((b * H + y) * W + x) * C + i] * F[((ty * c.k + tx) * C + i) * c.outC + o];
    }
    out[((b * OH + oy) * OW + ox) * c.outC + o] = c.relu ? Math.max(0, s) : s;
  }
  return out;
}

// 3x3 with PyTorch's padding 1, strided, 'same' (asymmetric on even sizes), 1x1, large enough for the pool.
const CONV_CASES: [string, ConvCase][] = [
  ['3x3 pad 1, bias, relu', { x: [1, 7, 9, 8], k: 3, outC: 5, stride: 1, pad: 1, bias: true, relu: true }],
  ['3x3 pad 1, batch 2, edge channels', { x: [2, 5, 6, 11], k: 3, outC: 13, stride: 1, pad: 1 }],
  ['3x3 stride 2, same', { x: [1, 8, 10, 9], k: 3, outC: 8, stride: 2, pad: 'same', bias: true }],
  ['1x1 valid', { x: [1, 6, 5, 16], k: 1, outC: 24, stride: 1, pad: 'valid', bias: true }],
  ['4x4 stride 4 valid (patch-like)', { x: [1, 8, 12, 8], k: 4, outC: 16, stride: 4, pad: 'valid' }],
  ['3x3 pad 1, 32 channels (pool)', { x: [1, 24, 20, 32], k: 3, outC: 32, stride: 1, pad: 1, bias: true, relu: true }],
];
test.each(CONV_CASES)('convolution %s: equal to the float64 one', (_, c) => {
  const before = tf.memory().numTensors;
  const C = c.x[3];
  const X = values(c.x.reduce((a, b) => a * b, 1), 21);
  const F = values(c.k * c.k * C * c.outC, 22);
  const bias = c.bias ? values(c.outC, 23) : undefined;
  const x = tf.tensor4d(X, c.x);
  const f = tf.tensor4d(F, [c.k, c.k, C, c.outC]);
  const bt = bias ? tf.tensor1d(bias) : undefined;
  const y = tf.fused.conv2d({ x, filter: f, strides: c.stride, pad: c.pad, bias: bt, activation: c.relu ? 'relu' : 'linear' });
  expect(multipliedByGemm(f.dataId)).toBe(true);
  const [, OH, OW] = y.shape;
  const info = tf.backend_util.computeConv2DInfo(c.x, [c.k, c.k, C, c.outC], c.stride, 1, c.pad);
  const want = convReference(c, X, F, bias, OH, OW, info.padInfo.top, info.padInfo.left);
  const got = y.dataSync();
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  expect(worst).toBeLessThan(4e-7 * c.k * c.k * C);
  tf.dispose([x, f, y, ...(bt ? [bt] : [])]);
  expect(tf.memory().numTensors).toBe(before);
});

test('a product it does not take (A transposed) still runs, on tfjs\'s kernels', () => {
  const a = tf.tensor2d(values(12, 3), [4, 3]);
  const b = tf.tensor2d(values(20, 4), [4, 5]);
  const y = tf.matMul(a, b, true, false); // [3, 5]
  expect(multipliedByGemm(b.dataId)).toBe(false);
  const ref = tf.tidy(() => tf.matMul(tf.transpose(a), b));
  expect(tf.max(tf.abs(tf.sub(y, ref))).dataSync()[0]).toBeLessThan(1e-6);
  tf.dispose([a, b, y, ref]);
});

test('off (bench --no-gemm): tfjs\'s kernels give the same products', () => {
  const a = tf.tensor2d(values(30 * 70, 5), [30, 70]);
  const b = tf.tensor2d(values(70 * 40, 6), [70, 40]);
  const on = tf.matMul(a, b);
  setWasmGemm('wasm', false);
  const b2 = tf.add(b, 0); // new data (a clone would share b's)
  const off = tf.matMul(a, b2);
  expect(multipliedByGemm(b2.dataId)).toBe(false);
  expect(tf.max(tf.abs(tf.sub(on, off))).dataSync()[0]).toBeLessThan(1e-5);
  tf.dispose([a, b, b2, on, off]);
});

test('operands past 2 GiB in the heap (child process): the same results as the cpu backend', async () => {
  const root = path.resolve(__dirname, '../..');
  const out = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, [require.resolve('tsx/cli'), 'test/wasm/high_heap_child.ts'], { cwd: root }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message.split('\n')[0]}\n${stderr.slice(-3000)}`)) : resolve(stdout)));
  });
  const r = JSON.parse(out.trim().split('\n').pop()!) as { lowest: number; worst: number; n: number };
  expect(r.lowest).toBeGreaterThan(2 ** 31);
  expect(r.n).toBe(5);
  expect(r.worst).toBeLessThan(1e-5);
}, 120_000);

test('the committed binary is assembled from tools/gen-wasm-gemm.mjs', () => {
  const root = path.resolve(__dirname, '../..');
  const out = execFileSync(process.execPath, [path.join(root, 'tools/gen-wasm-gemm.mjs'), '--check'], { cwd: root, encoding: 'utf8' });
  expect(out).toMatch(/up to date/);
});
