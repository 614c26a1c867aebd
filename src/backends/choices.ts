/**
 * Backend-specific choices, in one place: which layout of a computation each tfjs backend gets,
 * chosen once when weights are bound, from measurements (docs/backends.md).
 */
import * as tf from '@tensorflow/tfjs-core';
import { gelu } from '../nn/activations';
import { LayerNormWeights, layerNorm } from '../nn/layer_norm';
import { LinearWeights, linear } from '../nn/linear';
import { GELU_KERNEL, LAYER_NORM_KERNEL, MATMUL_GELU_KERNEL, SCALE_ADD_KERNEL, recordingGradients, runFused, wasmRowKernelsInstalled } from './wasm_kernels';

export type AttentionLayout = 'fused' | 'perHead';

/**
 * DINOv2 attention (src/dinov2/attention.ts explains both layouts): `perHead` on wasm, where only
 * plain 2D products reach XNNPACK; `fused` elsewhere. webgl and webgpu keep `fused`: each head's products there are separate dispatches with their own
 * launch and readback costs, and batched products are native kernels (no scalar fallback as in
 * wasm). Measured with `bench --attention` (docs/backends.md).
 */
const LAYOUTS: Record<string, AttentionLayout> = { wasm: 'perHead', webgl: 'fused', webgpu: 'fused' };
export const attentionLayout = (backend: string): AttentionLayout => LAYOUTS[backend] ?? 'fused';
/** For measurements (bench --attention): the layout weights bound from now on get on `backend`. */
export function setAttentionLayout(backend: string, layout: AttentionLayout): void {
  LAYOUTS[backend] = layout;
}

/**
 * The server's default `--max-batch` per backend: batch only where one forward of batch B was
 * measured faster than B single ones (tools/bench-batch.ts, tools/bench-service.mjs,
 * docs/serving.md). On wasm it was not at input 518 (0.9x-1.2x, noise on a shared 2-core machine);
 * only the tiny fixture model at input 140 gained (1.2-1.5x under concurrency), where per-op
 * overhead is much of a pass. cpu likewise; GPU backends are unmeasured here.
 */
const SERVER_BATCH: Record<string, number> = { wasm: 1, cpu: 1 };
export const serverMaxBatch = (backend: string): number => SERVER_BATCH[backend] ?? 1;

/**
 * Fused elementwise kernels (src/backends/wasm_kernels.ts): GELU and LayerNorm, each one pass
 * instead of a chain of tfjs ops. On wasm only, where every tfjs elementwise op is a separate
 * single-threaded pass and erf a scalar loop (measured op by op: docs/backends.md). GPU backends
 * keep tfjs's ops: unmeasured there, and a JavaScript kernel would read the tensor back. Off
 * while a gradient tape records (training): the kernels have no gradients.
 */
const FUSED: Record<string, boolean> = { wasm: true };
export const fusedElementwise = (backend: string): boolean => FUSED[backend] ?? false;
/** For measurements (bench --no-fused): whether ops run from now on on `backend` take the fused kernels. */
export function setFusedElementwise(backend: string, on: boolean): void {
  FUSED[backend] = on;
}
const useFused = (...xs: tf.Tensor[]): boolean => fusedElementwise(tf.getBackend()) && xs.every((x) => x.dtype === 'float32') && !recordingGradients();

/** Exact GELU: one fused pass where chosen, else src/nn/activations.ts. */
export const blockGelu = (x: tf.Tensor): tf.Tensor => (useFused(x) ? runFused(GELU_KERNEL, { x }) : gelu(x));

/**
 * gelu(x W + b) (DINOv2's fc1 and its activation): one product with GELU in its epilogue where the
 * relaxed-SIMD kernel runs (src/backends/wasm_gemm.ts), else the product then `blockGelu`.
 */
export function blockLinearGelu(x: tf.Tensor, p: LinearWeights): tf.Tensor {
  const [inF, outF] = p.w.shape;
  if (!(useFused(x) && wasmGemm(tf.getBackend()) && wasmRowKernelsInstalled() && p.b)) {
    const h = linear(x, p);
    const y = blockGelu(h);
    h.dispose(); // at once, not at the end of the caller's scope
    return y;
  }
  return tf.tidy(() => tf.reshape(runFused(MATMUL_GELU_KERNEL, { a: tf.reshape(x, [-1, inF]), b: p.w, bias: p.b as tf.Tensor }), [...x.shape.slice(0, -1), outF]));
}

/** x + y g (LayerScale, then the residual): one pass where the fused kernels are chosen. */
export const blockScaleAdd = (x: tf.Tensor, y: tf.Tensor, g: tf.Tensor): tf.Tensor =>
  (useFused(x, y, g) && tf.util.arraysEqual(x.shape, y.shape) && g.shape.length === 1 && g.shape[0] === x.shape[x.shape.length - 1] ? runFused(SCALE_ADD_KERNEL, { x, y, g }) : tf.tidy(() => tf.add(x, tf.mul(y, g))));

/** LayerNorm over the last axis: one fused kernel where chosen, else src/nn/layer_norm.ts. */
export const blockLayerNorm = (x: tf.Tensor, p: LayerNormWeights, eps: number): tf.Tensor =>
  useFused(x, p.gamma, p.beta) && p.gamma.shape[0] === x.shape[x.shape.length - 1] && p.beta.shape[0] === p.gamma.shape[0] ? runFused(LAYER_NORM_KERNEL, { x, gamma: p.gamma, beta: p.beta }, { eps }) : layerNorm(x, p, eps);

/**
 * wasm: matrix products by the relaxed-SIMD kernel of src/backends/wasm_gemm.ts where the engine
 * has relaxed SIMD (fused multiply-adds: 37-42 GFLOP/s per thread against XNNPACK's 19-30 on
 * ViT-S's products at 518, docs/backends.md). tfjs-backend-wasm's own kernels otherwise.
 */
const GEMM: Record<string, boolean> = { wasm: true };
export const wasmGemm = (backend: string): boolean => GEMM[backend] ?? false;
/** For measurements (bench --no-gemm): whether products run from now on on `backend` take the kernel. */
export function setWasmGemm(backend: string, on: boolean): void {
  GEMM[backend] = on;
}

/**
 * wasm: free each weight's unpacked heap copy once XNNPACK has packed it (src/backends/wasm_memory.ts
 * `freeWeightsOncePacked`): the same outputs and speed, about the weights' size less heap (V2-L at
 * 518: docs/backends.md). For every inference model of `bytes` of float32 weights.
 */
export const wasmFreesPackedWeights = (bytes: number): boolean => bytes > 0;
