/**
 * Faster kernels for tfjs's plain-JavaScript `cpu` backend, installed over its own when the backend
 * starts (installCpuKernels). Profiled on the full-size V2-S parity case (`node --prof`), the cpu
 * backend spent 62 % of its time in BatchMatMul (a generic strided loop, ~0.3 GFLOP/s here) and
 * 16 % in binary ops with broadcasting (an index-to-coordinates conversion per element: every bias,
 * LayerNorm affine and LayerScale). No library offers a faster pure-JS kernel for tfjs, so these
 * are written here:
 * - matrix products with the shared axis made contiguous on both sides and 2x4 outputs kept in
 *   registers (accumulated in double precision like tfjs's own, rounded to float32 once);
 * - Add/Sub/Mul/RealDiv where one side repeats along leading axes (a bias `[C]` over `[..., C]`) or
 *   along trailing axes (a `[..., 1]` statistic over `[..., C]`): plain index arithmetic.
 * Anything else (other dtypes, other broadcasts, activations other than relu) goes to tfjs's kernel.
 */
import * as tf from '@tensorflow/tfjs-core';

type Backend = { data: { get(id: unknown): { values: unknown } }; makeTensorInfo(shape: number[], dtype: string, values: Float32Array): tf.TensorInfo };
type Args = { inputs: Record<string, tf.TensorInfo | undefined>; backend: Backend; attrs?: Record<string, unknown> };

const values = (b: Backend, t: tf.TensorInfo) => b.data.get(t.dataId).values as Float32Array;
const size = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);

/** out[M, N] (+)= a[M, K] . bt[N, K]^T: both operands contiguous along K. */
function matMulRowsCols(a: Float32Array, aOff: number, bt: Float32Array, bOff: number, M: number, K: number, N: number, out: Float32Array, oOff: number): void {
  let i = 0;
  for (; i + 2 <= M; i += 2) {
    const a0 = aOff + i * K;
    const a1 = a0 + K;
    let j = 0;
    for (; j + 4 <= N; j += 4) {
      const b0 = bOff + j * K;
      const b1 = b0 + K;
      const b2 = b1 + K;
      const b3 = b2 + K;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      for (let k = 0; k < K; k++) {
        const x0 = a[a0 + k];
        const x1 = a[a1 + k];
        const y0 = bt[b0 + k];
        const y1 = bt[b1 + k];
        const y2 = bt[b2 + k];
        const y3 = bt[b3 + k];
        s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
        s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
      }
      const o0 = oOff + i * N + j;
      const o1 = o0 + N;
      out[o0] = s00; out[o0 + 1] = s01; out[o0 + 2] = s02; out[o0 + 3] = s03;
      out[o1] = s10; out[o1 + 1] = s11; out[o1 + 2] = s12; out[o1 + 3] = s13;
    }
    for (; j < N; j++) {
      const b0 = bOff + j * K;
      let s0 = 0;
      let s1 = 0;
      for (let k = 0; k < K; k++) {
        s0 += a[a0 + k] * bt[b0 + k];
        s1 += a[a1 + k] * bt[b0 + k];
      }
      out[oOff + i * N + j] = s0;
      out[oOff + (i + 1) * N + j] = s1;
    }
  }
  for (; i < M; i++) {
    const a0 = aOff + i * K;
    for (let j = 0; j < N; j++) {
      const b0 = bOff + j * K;
      let s = 0;
      for (let k = 0; k < K; k++) s += a[a0 + k] * bt[b0 + k];
      out[oOff + i * N + j] = s;
    }
  }
}

/** [batch, R, C] -> [batch, C, R]. */
function transposeLast2(x: Float32Array, batch: number, R: number, C: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < batch; b++) {
    const off = b * R * C;
    for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) out[off + c * R + r] = x[off + r * C + c];
  }
  return out;
}

/** The batched product as tfjs defines it (leading axes broadcast), or undefined to let tfjs do it. */
function product(a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean, backend: Backend): { out: Float32Array; shape: number[] } | undefined {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return undefined;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const K = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if ((transposeB ? b.shape[rb - 1] : b.shape[rb - 2]) !== K) return undefined; // tfjs words the error
  const lead = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batchA = size(a.shape.slice(0, -2));
  const batchB = size(b.shape.slice(0, -2));
  const batch = size(lead);
  // Only a whole side broadcast (one matrix for every batch) maps onto `i % batchX`, as in tfjs.
  if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return undefined;
  const av = transposeA ? transposeLast2(values(backend, a), batchA, K, M) : values(backend, a);
  const bt = transposeB ? values(backend, b) : transposeLast2(values(backend, b), batchB, K, N);
  const out = new Float32Array(batch * M * N);
  for (let i = 0; i < batch; i++) {
    matMulRowsCols(av, (i % batchA) * M * K, bt, (i % batchB) * N * K, M, K, N, out, i * M * N);
  }
  return { out, shape: [...lead, M, N] };
}

function batchMatMul(fallback: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as unknown as Args;
    const r = product(inputs.a!, inputs.b!, Boolean(attrs?.transposeA), Boolean(attrs?.transposeB), backend);
    return r ? backend.makeTensorInfo(r.shape, 'float32', r.out) : fallback(args);
  };
}

function fusedMatMul(fallback: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args as unknown as Args;
    const activation = attrs?.activation as string | undefined;
    const bias = inputs.bias;
    const plain = (activation === undefined || activation === 'linear' || activation === 'relu') && !inputs.preluActivationWeights
      && (!bias || (bias.dtype === 'float32' && size(bias.shape) === bias.shape[bias.shape.length - 1]));
    const r = plain ? product(inputs.a!, inputs.b!, Boolean(attrs?.transposeA), Boolean(attrs?.transposeB), backend) : undefined;
    if (!r) return fallback(args);
    const N = r.shape[r.shape.length - 1];
    if (bias && size(bias.shape) !== N && size(bias.shape) !== 1) return fallback(args);
    const bv = bias ? values(backend, bias) : undefined;
    const out = r.out;
    for (let i = 0; i < out.length; i++) {
      // Rounded to float32 after the product and after the bias, as tfjs's product-then-add does.
      let v = out[i];
      if (bv) v = Math.fround(v + bv[bv.length === 1 ? 0 : i % N]);
      out[i] = activation === 'relu' && v < 0 ? 0 : v;
    }
    return backend.makeTensorInfo(r.shape, 'float32', out);
  };
}

/**
 * How `small` repeats over `big` (same rank after left-padding with 1s): `period` when small is a
 * trailing block of big's axes (index i % size), `run` when it is a leading block followed by 1s
 * (index floor(i / run)); undefined for any other broadcast.
 */
function broadcastIndex(big: readonly number[], small: readonly number[]): ((i: number) => number) | undefined {
  const s = [...Array(big.length - small.length).fill(1), ...small];
  if (s.length !== big.length) return undefined;
  const n = size(s);
  let firstKept = 0;
  while (firstKept < s.length && s[firstKept] === 1) firstKept++;
  if (s.slice(firstKept).every((d, k) => d === big[firstKept + k])) return (i) => i % n;
  let lastKept = s.length - 1;
  while (lastKept >= 0 && s[lastKept] === 1) lastKept--;
  if (s.slice(0, lastKept + 1).every((d, k) => d === big[k])) {
    const run = size(big.slice(lastKept + 1));
    return (i) => Math.floor(i / run);
  }
  return undefined;
}

function binary(op: (x: number, y: number) => number, fallback: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, backend } = args as unknown as Args;
    const a = inputs.a!;
    const b = inputs.b!;
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return fallback(args);
    const na = size(a.shape);
    const nb = size(b.shape);
    if (na === nb || a.shape.length === 0 || b.shape.length === 0 || na < 1 || nb < 1) return fallback(args); // tfjs's fast paths
    const aBig = na > nb;
    const index = aBig ? broadcastIndex(a.shape, b.shape) : broadcastIndex(b.shape, a.shape);
    if (!index || (aBig ? a.shape.length < b.shape.length : b.shape.length < a.shape.length)) return fallback(args);
    const av = values(backend, a);
    const bv = values(backend, b);
    const out = new Float32Array(Math.max(na, nb));
    if (aBig) for (let i = 0; i < out.length; i++) out[i] = op(av[i], bv[index(i)]);
    else for (let i = 0; i < out.length; i++) out[i] = op(av[index(i)], bv[i]);
    return backend.makeTensorInfo([...(aBig ? a.shape : b.shape)], 'float32', out);
  };
}

const REPLACED: Record<string, (fallback: tf.KernelFunc) => tf.KernelFunc> = {
  BatchMatMul: batchMatMul,
  _FusedMatMul: fusedMatMul,
  Add: (f) => binary((x, y) => x + y, f),
  Sub: (f) => binary((x, y) => x - y, f),
  Mul: (f) => binary((x, y) => x * y, f),
  RealDiv: (f) => binary((x, y) => x / y, f),
};

let installed = false;

/** Puts the kernels above in front of tfjs-backend-cpu's (once; the originals stay as fallbacks). */
export function installCpuKernels(): void {
  if (installed) return;
  for (const [name, make] of Object.entries(REPLACED)) {
    const original = tf.getKernel(name, 'cpu');
    if (!original) continue; // tfjs-backend-cpu not registered in this bundle
    tf.unregisterKernel(name, 'cpu');
    tf.registerKernel({ ...original, kernelFunc: make(original.kernelFunc) });
  }
  installed = true;
}
