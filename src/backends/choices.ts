/**
 * Backend-specific choices, in one place: which layout of a computation each tfjs backend gets,
 * chosen once when weights are bound, from measurements (docs/backends.md).
 */

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
 * wasm: free each weight's unpacked heap copy once XNNPACK has packed it (src/backends/wasm_memory.ts
 * `freeWeightsOncePacked`): the same outputs and speed, about the weights' size less heap (V2-L at
 * 518: docs/backends.md). For every inference model of `bytes` of float32 weights.
 */
export const wasmFreesPackedWeights = (bytes: number): boolean => bytes > 0;
