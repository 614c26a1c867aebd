/**
 * wasm: weights packed as they are bound. XNNPACK packs a kernel on its first product and
 * `freeWeightsOncePacked` (wasm_memory.ts) then frees the kernel's own heap copy. When every kernel
 * is bound first and packed during the first pass, the packed copies (each a little larger than
 * the kernel and its bias) mostly do not fit the holes of the freed ones, and the pass's maps
 * land between them: at ViT-L 518 the heap grew by 0.6 GiB over the encoder while its live maps
 * never passed 0.23 GiB. Packed right after each part is bound (one product of a tiny input), the
 * next part's kernels fill the holes just freed, and the packed copies lie together below every map.
 * Where products cache no packed weights (the relaxed-SIMD kernel of wasm_gemm.ts, which packs B
 * per call and frees nothing) it would only cost the tiny products, so it is skipped there.
 */
import * as tf from '@tensorflow/tfjs-core';
import { freeWeightsOncePacked } from './wasm_memory';
import { wasmGemm } from './choices';
import { wasmGemmThreads } from './wasm_gemm';
import type { StateDict } from '../weights/state_dict';

/** Packs one bound part's kernels now: `run` is a product of every kernel of `weights` with a tiny input. */
export type PackPart = (weights: unknown, run: () => tf.TensorContainer) => void;

/**
 * For an inference model bound on wasm with XNNPACK's products: packs each part as it is bound
 * (see above). Undefined elsewhere, and for trainable weights (which are never freed).
 */
export function packWhileBinding(sd: StateDict): PackPart | undefined {
  if (tf.getBackend() !== 'wasm' || [...sd.values()].some((t) => t.tensor !== undefined)) return undefined;
  if (wasmGemmThreads() > 0 && wasmGemm('wasm')) return undefined;
  return (weights, run) => {
    freeWeightsOncePacked(weights, sd);
    tf.tidy(() => { run(); });
  };
}
