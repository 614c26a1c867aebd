/**
 * wasm's memory, checked before a pass (the GPU backends' limits are in limits.ts).
 * tfjs-backend-wasm is a wasm32 module: its heap grows to at most 4 GiB (getHeapMax in its build)
 * and never shrinks. Past it, malloc fails and the module aborts (`RuntimeError: Aborted()`),
 * after which no wasm kernel runs again in that process or page. XNNPACK keeps its own packed
 * copy of every weight matrix it multiplies by (tfjs-backend-wasm's operator caches), so a model
 * held about twice its weights before the first activation (V1 metric ViT-L at 392x518: 1.28 GiB
 * of weights, a 3.4 GiB heap, measured with 1 thread); `freeWeightsOncePacked` below frees the
 * unpacked copies. Where the relaxed-SIMD kernel (wasm_gemm.ts) runs the products and convolutions,
 * XNNPACK packs none of them and each weight is held once. The refusals here still count the
 * weights twice, as without that kernel: a conservative bound before the first pass.
 */
import * as tf from '@tensorflow/tfjs-core';
import { PassTensors, elements } from './limits';
import { wasmFreesPackedWeights } from './choices';
import { setWeightProductHooks } from '../nn/linear';
import { multipliedByGemm } from './wasm_gemm';
import type { StateDict } from '../weights/state_dict';

export const WASM_MAX_HEAP = 4 * 2 ** 30;

const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(2)} GiB`;
const onWasm = (): boolean => tf.getBackend() === 'wasm';

/** Bytes of every tensor in a (nested) weights object. */
export function tensorBytes(container: unknown): number {
  if (container instanceof tf.Tensor) return container.size * 4;
  if (Array.isArray(container)) return container.reduce((a: number, c) => a + tensorBytes(c), 0);
  if (container && typeof container === 'object') return Object.values(container).reduce((a: number, c) => a + tensorBytes(c), 0);
  return 0;
}

/** Before binding on wasm: weights that cannot be held with their packed copies are refused by name. */
export function checkWasmWeights(sd: StateDict, source: string): void {
  if (!onWasm()) return;
  let bytes = 0;
  for (const t of sd.values()) bytes += t.shape.reduce((a, b) => a * b, 1) * 4; // from the shape: reading `data` would load a lazily read tensor
  if (2 * bytes > WASM_MAX_HEAP) {
    throw new Error(`${source}: ${gib(bytes)} of float32 weights do not fit the wasm backend (at most 4 GiB of memory, and XNNPACK keeps a packed copy of each weight: about 2 GiB of weights at most); use --backend webgpu, tensorflow (tfjs-node) or cpu`);
  }
}

/**
 * Before a pass on wasm: the weights twice plus the pass's largest tensor are a lower bound of the
 * heap it needs; past 4 GiB it cannot run, so it is refused with the largest input size that fits.
 * What passes this check can still run out (activations, fragmentation): `wasmAbortError` says so.
 */
export function checkWasmPass(tensorsAt: PassTensors, weightBytes: number, H: number, W: number, sizes: Iterable<[number, number]>, batch = 1): void {
  if (!onWasm()) return;
  const need = (h: number, w: number) => {
    const largest = tensorsAt(h, w, 'wasm').reduce((a, t) => (elements(t.shape) > elements(a.shape) ? t : a));
    return { bytes: 2 * weightBytes + 4 * elements(largest.shape), largest };
  };
  const { bytes, largest } = need(H, W);
  if (bytes <= WASM_MAX_HEAP) return;
  let fits = '';
  for (const [h, w] of sizes) {
    if (need(h, w).bytes <= WASM_MAX_HEAP) { fits = `; ${h}x${w} may fit`; break; }
  }
  throw new Error(`input ${H}x${W}${batch > 1 ? ` x${batch}` : ''} does not fit the wasm backend's 4 GiB memory: the weights twice (${gib(2 * weightBytes)}, with XNNPACK's packed copies) and ${largest.name} [${largest.shape.join(', ')}] alone need ${gib(bytes)}${fits}${batch > 1 ? ', or a smaller batch' : ''} (or use another backend)`);
}

/**
 * A wasm trap said in one line with what to do; other errors unchanged. Running out of memory
 * shows as an abort (`Aborted()`, malloc failing) or as a trap where a failed allocation was used
 * (`memory access out of bounds`, `table index is out of bounds`: both measured with the heap
 * filled to within 8-32 MiB of its limit). After either the module's state cannot be trusted.
 */
export function wasmAbortError(e: unknown, what: string): unknown {
  const trap = e instanceof WebAssembly.RuntimeError || (e instanceof Error && /^Aborted\(/.test(e.message));
  if (!onWasm() || !trap) return e;
  const heap = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8?.buffer.byteLength ?? 0;
  const first = (e as Error).message.split('\n')[0];
  const cause = heap > 0.9 * WASM_MAX_HEAP ? `out of memory (${first}; its heap at ${gib(heap)} of at most 4 GiB)` : `${first} (heap ${gib(heap)})`;
  return new Error(`the wasm backend failed ${what}: ${cause}. The wasm backend cannot be trusted again in this process: restart it with a smaller input size or another backend`);
}

/**
 * XNNPACK packs a weight into its cached operator on the first product with it (the operator is
 * keyed by the weight's tensor id, its bias's and the activation or conv geometry:
 * tfjs-backend-wasm's batch_mat_mul_impl.cc and conv2d_impl.cc) and never reads the weight again;
 * the tensor's own copy in the heap is then dead weight, as large as the packed one. Weights marked
 * here (an inference model's, bound on wasm: `freeWeightsOncePacked`) have that copy freed right
 * after the first product through `linear`/`conv2d` (src/nn), whose later products hit the cached
 * operator: the same packed data, the same outputs. The tensor stays alive (its id keys the cache;
 * disposing it deletes the operator); its data can no longer be read, so only weights that no other
 * op reads are marked, and a later product with another key (which would pack freed memory) throws.
 */
interface WasmData { memoryOffset: number | null }
interface WasmInternals { dataIdMap: { get(id: object): WasmData | undefined }; wasm: { _free(ptr: number): void } }
const freeable = new WeakSet<object>();
const freed = new WeakMap<object, string>();
let freedBytes = 0;

/** Bytes of weights freed once packed in this process (for tests and memory reports). */
export const wasmFreedWeightBytes = (): number => freedBytes;

function tensorsOf(container: unknown, out: tf.Tensor[]): tf.Tensor[] {
  if (container instanceof tf.Tensor) out.push(container);
  else if (Array.isArray(container)) container.forEach((c) => tensorsOf(c, out));
  else if (container && typeof container === 'object') Object.values(container).forEach((c) => tensorsOf(c, out));
  return out;
}

/**
 * After binding an inference model on wasm: its weights' heap copies may be freed once packed
 * (see above). Not for trainable weights (the gradients read them) nor where choices.ts says no.
 */
export function freeWeightsOncePacked(weights: unknown, sd: StateDict): void {
  if (!onWasm() || [...sd.values()].some((t) => t.tensor !== undefined)) return;
  const all = tensorsOf(weights, []);
  if (!wasmFreesPackedWeights(all.reduce((a, t) => a + t.size * 4, 0))) return;
  for (const t of all) freeable.add(t.dataId);
}

function freeHeapCopy(t: tf.Tensor): void {
  const data = (tf.backend() as unknown as WasmInternals).dataIdMap.get(t.dataId);
  if (!data || !data.memoryOffset) return;
  (tf.backend() as unknown as WasmInternals).wasm._free(data.memoryOffset);
  data.memoryOffset = 0; // disposeData frees memoryOffset: free(0) does nothing
  freedBytes += t.size * 4;
}

setWeightProductHooks({
  // Activations go after the product for these weights: one packed operator per weight, whichever pass.
  unfused: (w) => freeable.has(w.dataId),
  // tfjs would move the weight to the active backend by reading its freed heap copy: garbage.
  before(w) {
    const done = freed.get(w.dataId);
    if (done !== undefined && !onWasm()) throw new Error(`a model bound on wasm (its weights' heap copies freed once packed) was run with the "${tf.getBackend()}" backend active: run it with wasm active, or load it again on "${tf.getBackend()}"`);
  },
  after(w, b, key) {
    const done = freed.get(w.dataId);
    const full = `${key}, bias ${b ? 'yes' : 'no'}`;
    if (done !== undefined) {
      if (done !== full) throw new Error(`a weight [${w.shape.join(', ')}] whose wasm copy was freed once packed (${done}) was used again as ${full}: its data is gone`);
      return;
    }
    // The relaxed-SIMD kernel (wasm_gemm.ts) packs B on every product: nothing cached, keep the copy.
    if (!freeable.has(w.dataId) || !onWasm() || multipliedByGemm(w.dataId)) return;
    // The bias is packed with the weight: freed too, so that the two holes join (holes of single
    // kernels, between live biases, are each a little too small for the next packed kernel).
    for (const t of b && freeable.has(b.dataId) ? [w, b] : [w]) freeHeapCopy(t);
    freed.set(w.dataId, full);
  },
});
