/**
 * Matrix products for tfjs-backend-wasm with fused multiply-adds (WebAssembly relaxed SIMD).
 *
 * tfjs-backend-wasm 4.22 multiplies with XNNPACK built for SIMD128 without FMA: a multiply and an
 * add per lane and step, measured at 19-30 GFLOP/s per thread here (ViT-S's products at 518). One
 * `f32x4.relaxed_madd` does both; the kernel of tools/gen-wasm-gemm.mjs (a 4x8 register tile over
 * a packed panel of B) runs the same products at 37-42 GFLOP/s per thread. It works inside the
 * backend's own heap: it imports the module's memory, reads the inputs where tfjs keeps them and
 * writes the output tfjs allocated, so nothing is copied.
 *
 * Installed over the backend's `BatchMatMul` and `_FusedMatMul` kernels, it takes the products it
 * can (float32, A not transposed, bias of N values or none, activation none or relu, batch dims
 * equal or one side unbatched) and hands every other one to tfjs's own kernel. B is packed per call
 * into a scratch buffer (its K x N is small next to the product's M x K x N), so weights keep their
 * plain layout: gradients, taps and reads see ordinary tensors. Where relaxed SIMD is missing
 * (older browsers; Node before 22 needs V8's flag, which the Node shell sets) nothing is installed.
 *
 * Threads: a `GemmRunner` splits the row blocks of one product. The default runs on the calling
 * thread; the Node shell (src/backends/wasm_gemm_pool.ts) adds worker threads on the same shared
 * memory. Whether the kernel is used at all is decided in src/backends/choices.ts (`wasmGemm`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { GEMM_MR, GEMM_NR, GEMM_WASM_PLAIN, GEMM_WASM_SHARED } from './wasm_gemm.generated';
import { wasmGemm } from './choices';
import { MATMUL_GELU_KERNEL, setWasmRowKernels } from './wasm_kernels';

/** The row-block functions of the kernel module: their arguments (tools/gen-wasm-gemm.mjs), then a range of row blocks. */
export const GEMM_FUNCTIONS = ['gemm', 'conv', 'layernorm', 'gelu', 'scaleadd'] as const;
export type GemmFunction = (typeof GEMM_FUNCTIONS)[number];
export type GemmExports = Record<GemmFunction, (...args: number[]) => void> & {
  pack(b: number, ldb: number, bp: number, K: number, N: number, trans: number): void;
};

/** Runs one of GEMM_FUNCTIONS over all `blocks` row blocks of a product, on one thread or several. */
export interface GemmRunner {
  readonly threads: number;
  run(fn: GemmFunction, args: number[], blocks: number): void;
}

/** Makes a runner with worker threads for a compiled kernel on a shared memory (the Node shell). */
export type GemmPoolFactory = (module: WebAssembly.Module, memory: WebAssembly.Memory, threads: number) => GemmRunner;

interface WasmModule {
  wasmMemory?: WebAssembly.Memory;
  asm?: { memory?: WebAssembly.Memory };
  _malloc(bytes: number): number;
  _free(ptr: number): void;
}
interface WasmBackend {
  wasm: WasmModule;
  dataIdMap: { get(id: object): { memoryOffset: number | null } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}
type KernelArgs = { inputs: Record<string, tf.TensorInfo | undefined>; backend: WasmBackend; attrs: Record<string, unknown> };

interface Installed {
  memory: WebAssembly.Memory;
  exports: GemmExports;
  runner: GemmRunner;
}
let installed: Installed | undefined;
const readByGemm = new WeakSet<object>();

/**
 * Whether the kernel has multiplied by this tensor (as B): it reads B on every product, so such a
 * weight's heap copy must stay (src/backends/wasm_memory.ts frees only what XNNPACK packed).
 */
export const multipliedByGemm = (dataId: object): boolean => readByGemm.has(dataId);

/** Products below this many multiply-adds stay on the calling thread (waking workers costs ~0.1 ms). */
const THREADED_MIN_MACS = 2 ** 20;

const fromBase64 = (s: string): Uint8Array<ArrayBuffer> => {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
};

/** The backend module's memory: an import of the threaded build, an export of the others. */
const memoryOf = (m: WasmModule): WebAssembly.Memory | undefined => m.wasmMemory ?? m.asm?.memory;

/** Whether this JavaScript engine runs the kernel (relaxed SIMD and, for `shared`, threads). */
export function gemmSupported(shared: boolean): boolean {
  try {
    return WebAssembly.validate(fromBase64(shared ? GEMM_WASM_SHARED : GEMM_WASM_PLAIN));
  } catch {
    return false;
  }
}

/** The runner of the calling thread alone. */
const inline = (exports: GemmExports): GemmRunner => ({ threads: 1, run: (fn, args, blocks) => exports[fn](...args, 0, blocks) });

/**
 * After `tf.setBackend('wasm')`: compiles the kernel for the backend's memory and installs it over
 * the matrix-product kernels. `threads` > 1 with `pool` (and a shared memory): products are split
 * over that many threads. Returns why it is not installed, or null.
 */
export async function installWasmGemm(threads = 1, pool?: GemmPoolFactory): Promise<string | null> {
  if (tf.getBackend() !== 'wasm') return 'the wasm backend is not active';
  const memory = memoryOf((tf.backend() as unknown as WasmBackend).wasm);
  if (!memory) return "tfjs-backend-wasm's memory is not reachable (a build this code does not know)";
  if (installed?.memory === memory) return null;
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  if (shared && !(threads > 1 && pool)) return "tfjs-backend-wasm's threaded build without worker threads of ours: XNNPACK's threads are kept";
  if (!gemmSupported(shared)) return 'this JavaScript engine has no WebAssembly relaxed SIMD';
  const module = await WebAssembly.compile(fromBase64(shared ? GEMM_WASM_SHARED : GEMM_WASM_PLAIN));
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const exports = instance.exports as unknown as GemmExports;
  const runner = shared && pool ? pool(module, memory, threads) : inline(exports);
  installed = { memory, exports, runner };
  overrideKernels();
  setWasmRowKernels({
    ptr: (backend, t) => ptr(backend as WasmBackend, t),
    run: (fn, args, rows, work) => (work >= THREADED_MIN_MACS ? runner : inline(exports)).run(fn, args, rows),
  });
  return null;
}

/** Threads the installed kernel runs with (0: not installed). */
export const wasmGemmThreads = (): number => (installed ? installed.runner.threads : 0);

const size = tf.util.sizeFromShape;

/** The kernel's epilogues ('gelu' only through MATMUL_GELU_KERNEL: tfjs's fused ops have no GELU). */
const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, gelu: 2 };

/** Where a tensor's data starts in the heap. */
function ptr(backend: WasmBackend, t: tf.TensorInfo): number {
  const off = backend.dataIdMap.get(t.dataId)?.memoryOffset;
  if (!off) throw new Error(`an operand [${t.shape.join(', ')}] of a wasm product has no data in the heap (freed once packed, or disposed)`);
  return off;
}

/** The kernel, where it is installed on this backend's memory and chosen (choices.ts). */
const active = (backend: WasmBackend): Installed | undefined => (installed && memoryOf(backend.wasm) === installed.memory && wasmGemm('wasm') ? installed : undefined);

/** The product by the kernel, or null where tfjs's own kernel should run. */
function gemmKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo | null {
  const { a, b, bias, preluActivationWeights } = inputs;
  const activation = (attrs.activation as string | undefined) ?? 'linear';
  const kernel = active(backend);
  if (!kernel || !a || !b || preluActivationWeights) return null;
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || attrs.transposeA || a.shape.length < 2 || b.shape.length < 2) return null;
  if (activation !== 'linear' && activation !== 'relu' && activation !== 'gelu') return null;
  const transB = Boolean(attrs.transposeB);
  const [M, K] = a.shape.slice(-2);
  const [K2, N] = transB ? b.shape.slice(-2).reverse() : b.shape.slice(-2);
  if (K !== K2 || M === 0 || N === 0 || K === 0) return null;
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const nA = size(batchA);
  const nB = size(batchB);
  // Equal batch dims, or one side unbatched (tfjs-core's matMul has already checked the shapes).
  if (!(tf.util.arraysEqual(batchA, batchB) || nA === 1 || nB === 1)) return null;
  if (bias && (bias.dtype !== 'float32' || bias.shape[bias.shape.length - 1] !== N || size(bias.shape) !== N)) return null;
  const batch = tf.backend_util.assertAndGetBroadcastShape(batchA, batchB); // e.g. [M, K] x [1, K, N] is [1, M, N]
  const nOut = Math.max(nA, nB);
  const out = backend.makeOutput([...batch, M, N], 'float32');
  readByGemm.add(b.dataId);
  const { exports, runner } = kernel;
  const panels = Math.ceil(N / GEMM_NR);
  const packedBytes = panels * GEMM_NR * K * 4;
  const scratch = backend.wasm._malloc(packedBytes) >>> 0; // an unsigned offset: heaps grow past 2 GiB
  if (!scratch) throw new Error(`the wasm heap has no room for a matrix product's packed operand (${(packedBytes / 2 ** 20).toFixed(1)} MiB)`);
  try {
    // Pointers after makeOutput and malloc (neither moves existing data; both may grow the heap).
    const pa = ptr(backend, a);
    const pb = ptr(backend, b);
    const pc = ptr(backend, out);
    const pbias = bias ? ptr(backend, bias) : 0;
    const ldb = (transB ? K : N) * 4;
    const blocks = Math.ceil(M / GEMM_MR);
    const use = M * N * K >= THREADED_MIN_MACS ? runner : inline(exports);
    for (let i = 0; i < nOut; i++) {
      if (i === 0 || nB > 1) exports.pack(pb + (nB === 1 ? 0 : i * K * N * 4), ldb, scratch, K, N, transB ? 1 : 0);
      const aOff = pa + (nA === 1 ? 0 : i * M * K * 4);
      use.run('gemm', [aOff, K * 4, scratch, pbias, pc + i * M * N * 4, N * 4, M, N, K, ACTIVATIONS[activation]], blocks);
    }
  } finally {
    backend.wasm._free(scratch);
  }
  return out;
}

/** Convolutions with fewer input channels stay with XNNPACK (ViT's patch embedding: 3 channels a tap, all overhead). */
const CONV_MIN_CHANNELS = 8;

/**
 * An NHWC convolution by the kernel (groups 1, no dilation, square kernel and strides, any
 * padding), or null for tfjs's own. Each output pixel is a row of a product whose operand rows are
 * gathered tap by tap (`conv` in tools/gen-wasm-gemm.mjs); taps in the padding read zeros.
 */
function convKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo | null {
  const { x, filter, bias, preluActivationWeights } = inputs;
  const activation = (attrs.activation as string | undefined) ?? 'linear';
  const kernel = active(backend);
  if (!kernel || !x || !filter || preluActivationWeights) return null;
  if (x.dtype !== 'float32' || filter.dtype !== 'float32' || x.shape.length !== 4 || (attrs.dataFormat ?? 'NHWC') !== 'NHWC') return null;
  if (activation !== 'linear' && activation !== 'relu') return null;
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filter.shape as [number, number, number, number],
    attrs.strides as [number, number] | number, (attrs.dilations as [number, number] | number | undefined) ?? 1, attrs.pad as 'valid',
    attrs.dimRoundingMode as 'floor' | undefined);
  const k = info.filterHeight;
  if (info.filterWidth !== k || info.dilationHeight !== 1 || info.dilationWidth !== 1 || info.strideHeight !== info.strideWidth) return null;
  if (info.padInfo.top !== info.padInfo.left || info.inChannels < CONV_MIN_CHANNELS || info.inChannels !== filter.shape[2]) return null;
  const N = info.outChannels;
  if (bias && (bias.dtype !== 'float32' || size(bias.shape) !== N)) return null;
  const P = info.batchSize * info.outHeight * info.outWidth;
  if (P === 0 || N === 0) return null;
  const K = k * k * info.inChannels;
  const out = backend.makeOutput([info.batchSize, info.outHeight, info.outWidth, N], 'float32');
  readByGemm.add(filter.dataId);
  const { exports, runner } = kernel;
  const packedBytes = Math.ceil(N / GEMM_NR) * GEMM_NR * K * 4;
  const zeroBytes = info.inChannels * 4;
  const scratch = backend.wasm._malloc(packedBytes + zeroBytes) >>> 0;
  if (!scratch) throw new Error(`the wasm heap has no room for a convolution's packed filter (${(packedBytes / 2 ** 20).toFixed(1)} MiB)`);
  try {
    const zero = scratch + packedBytes;
    new Float32Array(memoryOf(backend.wasm)!.buffer, zero, info.inChannels).fill(0);
    exports.pack(ptr(backend, filter), N * 4, scratch, K, N, 0); // HWIO is [k k Cin, N] row-major
    const blocks = Math.ceil(P / GEMM_MR);
    const use = P * N * K >= THREADED_MIN_MACS ? runner : inline(exports);
    use.run('conv', [ptr(backend, x), info.inHeight, info.inWidth, info.inChannels, k, info.strideHeight, info.padInfo.top, zero, scratch,
      bias ? ptr(backend, bias) : 0, ptr(backend, out), info.outHeight, info.outWidth, N, P, activation === 'relu' ? 1 : 0], blocks);
  } finally {
    backend.wasm._free(scratch);
  }
  return out;
}

let overridden = false;
/** Puts the kernels in front of tfjs-backend-wasm's products and convolutions (once per process). */
function overrideKernels(): void {
  if (overridden) return;
  overridden = true;
  tf.registerKernel({
    kernelName: MATMUL_GELU_KERNEL,
    backendName: 'wasm',
    kernelFunc: (args) => {
      const out = gemmKernel({ ...(args as unknown as KernelArgs), attrs: { activation: 'gelu' } });
      if (!out) throw new Error(`${MATMUL_GELU_KERNEL}: operands the kernel does not take (float32 [M, K] x [K, N] and a bias of N)`);
      return out;
    },
  });
  const ours: [string, (a: KernelArgs) => tf.TensorInfo | null][] = [['BatchMatMul', gemmKernel], ['_FusedMatMul', gemmKernel], ['Conv2D', convKernel], ['FusedConv2D', convKernel]];
  for (const [kernelName, kernel] of ours) {
    const original = tf.getKernel(kernelName, 'wasm');
    if (!original) continue;
    tf.unregisterKernel(kernelName, 'wasm');
    tf.registerKernel({
      ...original,
      kernelFunc: (args) => kernel(args as unknown as KernelArgs) ?? (original.kernelFunc(args) as tf.TensorInfo),
    });
  }
}
