/**
 * Fused elementwise kernels for tfjs-backend-wasm over the backend's heap.
 *
 * tfjs-wasm runs every elementwise op as its own single-threaded pass over the whole tensor, and
 * its erf is a scalar loop. In the DINOv2 block, GELU was five passes over fc1's output (two
 * scalings, erf, +1, product) and LayerNorm nine. Each kernel here is one pass (LayerNorm: a row's
 * statistics, then its output). Where the relaxed-SIMD module of src/backends/wasm_gemm.ts is
 * installed they run there, vectorised, in float32 and split over its threads (and GELU is fused
 * into fc1's product: MATMUL_GELU_KERNEL); elsewhere in JavaScript, in double precision rounded
 * to float32 once. Both are at least as accurate as tfjs's chains.
 *
 * Kernels are registered for `wasm` only, under names of their own; which ops use them on which
 * backend is decided in src/backends/choices.ts (`fusedElementwise`). No gradients: the ops
 * (`blockGelu`, `blockLayerNorm` in choices.ts) take their composite form whenever a gradient
 * tape records (training).
 */
import * as tf from '@tensorflow/tfjs-core';

export const GELU_KERNEL = 'DepthAnythingGelu';
export const LAYER_NORM_KERNEL = 'DepthAnythingLayerNorm';
/** x + y g (g per channel): LayerScale and the residual add in one pass. */
export const SCALE_ADD_KERNEL = 'DepthAnythingScaleAdd';
/** x W + b, then exact GELU, in one product (registered by src/backends/wasm_gemm.ts where it is installed). */
export const MATMUL_GELU_KERNEL = 'DepthAnythingMatMulGelu';

/** The slice of tfjs-backend-wasm's BackendWasm these kernels use (its JS kernels such as Fill use the same). */
interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}
type Args = { inputs: Record<string, tf.TensorInfo>; backend: WasmBackend; attrs?: Record<string, unknown> };

/**
 * The same kernels in WebAssembly (SIMD, split over threads), which src/backends/wasm_gemm.ts
 * installs with its products: `run` takes the row function's name, its arguments (heap pointers
 * from `ptr`, sizes) and how many rows there are; `work` sizes the job (small ones stay on one thread).
 */
export interface WasmRowKernels {
  ptr(backend: unknown, t: tf.TensorInfo): number;
  run(fn: 'layernorm' | 'gelu' | 'scaleadd', args: number[], rows: number, work: number): void;
}
let rowKernels: WasmRowKernels | undefined;
/** Installs (or, for tests, removes) the WebAssembly versions; returns the previous ones. */
export function setWasmRowKernels(k: WasmRowKernels | undefined): WasmRowKernels | undefined {
  const old = rowKernels;
  rowKernels = k;
  return old;
}
/** Whether the WebAssembly versions (and MATMUL_GELU_KERNEL) are installed. */
export const wasmRowKernelsInstalled = (): boolean => rowKernels !== undefined;
const f32Bits = (v: number): number => new Int32Array(Float32Array.of(v).buffer)[0];
/** Values per row of the wasm `gelu`. */
const GELU_ROW = 1024;

/**
 * erf as a rational function of x^2 on [-4, 4] (clamped past: erf(4) = 1 - 1.5e-8), the float32
 * minimax fit of Eigen/XLA's erf, evaluated in double: at most 6.5e-8 from the true erf (checked
 * on a 3e-6 grid over [-6, 6]), about float32's own rounding of erf near 1.
 */
function erf(x: number): number {
  const z = x > 4 ? 4 : x < -4 ? -4 : x;
  const z2 = z * z;
  let p = -2.72614225801306e-10;
  p = p * z2 + 2.77068142495902e-8;
  p = p * z2 - 2.10102402082508e-6;
  p = p * z2 - 5.69250639462346e-5;
  p = p * z2 - 7.34990630326855e-4;
  p = p * z2 - 2.95459980854025e-3;
  p = p * z2 - 1.60960333262415e-2;
  let q = -1.45660718464996e-5;
  q = q * z2 - 2.13374055278905e-4;
  q = q * z2 - 1.68282697438203e-3;
  q = q * z2 - 7.37332916720468e-3;
  q = q * z2 - 1.42647390514189e-2;
  return (z * p) / q;
}

/** Exact GELU (torch.nn.GELU(), approximate='none'): x/2 (1 + erf(x / sqrt 2)). */
function gelu({ inputs: { x }, backend }: Args): tf.TensorInfo {
  const out = backend.makeOutput(x.shape.slice(), 'float32');
  const n = tf.util.sizeFromShape(x.shape);
  if (rowKernels) {
    rowKernels.run('gelu', [rowKernels.ptr(backend, x), rowKernels.ptr(backend, out), n], Math.ceil(n / GELU_ROW), 20 * n);
    return out;
  }
  // Views after makeOutput: a heap that grows detaches earlier ones.
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    dst[i] = 0.5 * v * (1 + erf(v * Math.SQRT1_2));
  }
  return out;
}

/** LayerNorm over the last axis, biased variance (torch.nn.LayerNorm); mean and variance in double. */
function layerNorm({ inputs: { x, gamma, beta }, backend, attrs }: Args): tf.TensorInfo {
  const eps = attrs?.eps as number;
  const C = x.shape[x.shape.length - 1];
  const out = backend.makeOutput(x.shape.slice(), 'float32');
  if (rowKernels) {
    const p = (t: tf.TensorInfo) => rowKernels!.ptr(backend, t);
    const n = tf.util.sizeFromShape(x.shape);
    rowKernels.run('layernorm', [p(x), p(gamma), p(beta), p(out), C, f32Bits(eps)], n / C, 8 * n);
    return out;
  }
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  const g = backend.typedArrayFromHeap(gamma);
  const b = backend.typedArrayFromHeap(beta);
  for (let r = 0; r < src.length; r += C) {
    let s = 0;
    for (let c = 0; c < C; c++) s += src[r + c];
    const mean = s / C;
    let ss = 0;
    for (let c = 0; c < C; c++) {
      const d = src[r + c] - mean;
      ss += d * d;
    }
    const inv = 1 / Math.sqrt(ss / C + eps);
    for (let c = 0; c < C; c++) dst[r + c] = (src[r + c] - mean) * inv * g[c] + b[c];
  }
  return out;
}

/** x + y g over the last axis (g of its size). */
function scaleAdd({ inputs: { x, y, g }, backend }: Args): tf.TensorInfo {
  const C = g.shape[0];
  const out = backend.makeOutput(x.shape.slice(), 'float32');
  const n = tf.util.sizeFromShape(x.shape);
  if (rowKernels) {
    const p = (t: tf.TensorInfo) => rowKernels!.ptr(backend, t);
    rowKernels.run('scaleadd', [p(x), p(y), p(g), p(out), C], n / C, 2 * n);
    return out;
  }
  const xs = backend.typedArrayFromHeap(x);
  const ys = backend.typedArrayFromHeap(y);
  const gs = backend.typedArrayFromHeap(g);
  const dst = backend.typedArrayFromHeap(out);
  for (let i = 0; i < n; i++) dst[i] = xs[i] + Math.fround(ys[i] * gs[i % C]);
  return out;
}

const KERNELS: [string, (a: Args) => tf.TensorInfo][] = [[GELU_KERNEL, gelu], [LAYER_NORM_KERNEL, layerNorm], [SCALE_ADD_KERNEL, scaleAdd]];
for (const [kernelName, f] of KERNELS) {
  if (!tf.getKernel(kernelName, 'wasm')) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: f as unknown as tf.KernelFunc });
}

/** Whether a gradient tape is recording (then the ops take their differentiable composite form). */
export const recordingGradients = (): boolean => (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0;

/** Runs one of the kernels above (float32 inputs only; the caller checks). */
export function runFused(name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, number> = {}): tf.Tensor {
  return tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}
