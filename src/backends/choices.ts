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
