/**
 * Fused elementwise kernels for tfjs-backend-wasm, written in JavaScript over the backend's heap.
 *
 * tfjs-wasm runs every elementwise op as its own single-threaded pass over the whole tensor, and
 * its erf is a scalar loop. In the DINOv2 block, GELU was five passes over fc1's output (two
 * scalings, erf, +1, product) and LayerNorm nine. Each kernel here is one pass (LayerNorm: a row's
 * statistics, then its output), in double precision, rounded to float32 once: at least as
 * accurate as the chains. (LayerScale with the residual add, two native passes, was measured as
 * fast as one JavaScript pass, so it stays as it is.)
 *
 * Kernels are registered for `wasm` only, under names of their own; which ops use them on which
 * backend is decided in src/backends/choices.ts (`fusedElementwise`). No gradients: the ops
 * (`blockGelu`, `blockLayerNorm` in choices.ts) take their composite form whenever a gradient
 * tape records (training).
 */
import * as tf from '@tensorflow/tfjs-core';

export const GELU_KERNEL = 'DepthAnythingGelu';
export const LAYER_NORM_KERNEL = 'DepthAnythingLayerNorm';

/** The slice of tfjs-backend-wasm's BackendWasm these kernels use (its JS kernels such as Fill use the same). */
interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}
type Args = { inputs: Record<string, tf.TensorInfo>; backend: WasmBackend; attrs?: Record<string, unknown> };

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

const KERNELS: [string, (a: Args) => tf.TensorInfo][] = [[GELU_KERNEL, gelu], [LAYER_NORM_KERNEL, layerNorm]];
for (const [kernelName, f] of KERNELS) {
  if (!tf.getKernel(kernelName, 'wasm')) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: f as unknown as tf.KernelFunc });
}

/** Whether a gradient tape is recording (then the ops take their differentiable composite form). */
export const recordingGradients = (): boolean => (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0;

/** Runs one of the kernels above (float32 inputs only; the caller checks). */
export function runFused(name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, number> = {}): tf.Tensor {
  return tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
}
