/**
 * Worker threads for the matrix-product kernel of src/backends/wasm_gemm.ts (Node).
 *
 * Each worker instantiates the compiled kernel on tfjs-backend-wasm's shared memory and sleeps on
 * a control block (Atomics.wait). A product wakes them, every thread (the caller too) computes its
 * share of the row blocks in place, and the caller sleeps until the last one is done. Written by
 * hand: a product is a few milliseconds, so a message-passing pool (piscina and the like: a
 * postMessage and a promise per task) would cost more than it saves, and the caller must block,
 * since tfjs kernels are synchronous.
 */
import v8 = require('v8');
import workerThreads = require('worker_threads');
import { GEMM_FUNCTIONS, GemmExports, GemmFunction, GemmRunner, gemmSupported, installWasmGemm } from './wasm_gemm';

// Control block (Int32Array): generation, threads still running, function, failure flag, row blocks, argument count, the arguments.
const GEN = 0;
const PENDING = 1;
const FN = 2;
const FAILED = 3;
const BLOCKS = 4;
const NARGS = 5;
const ARGS = 6;
const MAX_ARGS = 24;
/** A worker that has not answered for this long is taken as lost. */
const STALL_MS = 120_000;

const WORKER = `
const { workerData } = require('worker_threads');
const { module, memory, control, index, threads } = workerData;
const ctl = new Int32Array(control);
const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
const fns = ${JSON.stringify(GEMM_FUNCTIONS)}.map((name) => exports[name]);
// Every generation is seen once, in order: the caller waits for all threads before the next.
for (let seen = 0; ; seen++) {
  Atomics.wait(ctl, ${GEN}, seen);
  try {
    const blocks = ctl[${BLOCKS}];
    const per = Math.ceil(blocks / threads);
    const b0 = Math.min(blocks, index * per), b1 = Math.min(blocks, b0 + per);
    if (b0 < b1) fns[ctl[${FN}]](...ctl.subarray(${ARGS}, ${ARGS} + ctl[${NARGS}]), b0, b1);
  } catch (e) {
    Atomics.store(ctl, ${FAILED}, 1);
  }
  if (Atomics.sub(ctl, ${PENDING}, 1) === 1) Atomics.notify(ctl, ${PENDING});
}
`;

/** A pool of `threads - 1` workers plus the calling thread. */
export function createGemmPool(module: WebAssembly.Module, memory: WebAssembly.Memory, threads: number): GemmRunner {
  const control = new SharedArrayBuffer(4 * (ARGS + MAX_ARGS));
  const ctl = new Int32Array(control);
  const main = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as GemmExports;
  const workers = Array.from({ length: threads - 1 }, (_, i) => {
    const w = new workerThreads.Worker(WORKER, { eval: true, workerData: { module, memory, control, index: i + 1, threads } });
    w.unref(); // idle workers must not keep the process alive
    return w;
  });
  return {
    threads,
    run(fn: GemmFunction, args: number[], blocks: number): void {
      if (args.length > MAX_ARGS) throw new Error(`${fn}: ${args.length} arguments, the pool passes at most ${MAX_ARGS}`);
      ctl.set(args, ARGS);
      ctl[FN] = GEMM_FUNCTIONS.indexOf(fn);
      ctl[NARGS] = args.length;
      ctl[BLOCKS] = blocks;
      Atomics.store(ctl, PENDING, workers.length);
      Atomics.add(ctl, GEN, 1);
      Atomics.notify(ctl, GEN);
      const per = Math.ceil(blocks / threads);
      try {
        main[fn](...args, 0, Math.min(blocks, per));
      } finally {
        // Even when this thread's share threw: the workers must finish this product before the
        // next one reuses the control block (a late decrement would end the next wait early).
        let waited = 0;
        for (let left = Atomics.load(ctl, PENDING); left > 0; left = Atomics.load(ctl, PENDING)) {
          if (Atomics.wait(ctl, PENDING, left, 1000) === 'timed-out' && (waited += 1000) >= STALL_MS) {
            throw new Error(`a matrix-product worker thread has not answered for ${STALL_MS / 1000} s (${left} of ${workers.length} still running); the wasm backend cannot be trusted again in this process`);
          }
        }
      }
      if (Atomics.exchange(ctl, FAILED, 0)) throw new Error(`a matrix-product worker thread failed in ${fn} (a wasm trap: memory out of bounds?)`);
    },
  };
}

/**
 * After the wasm backend started with `threads` XNNPACK threads: the kernel with as many threads.
 * Node before 22 (V8 before 11.4) validates relaxed SIMD only behind V8's flag, which is set here
 * (it affects only modules compiled from now on). Returns why the kernel is not installed, or null.
 */
export async function installNodeWasmGemm(threads: number): Promise<string | null> {
  if (!gemmSupported(false)) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  return installWasmGemm(threads, createGemmPool);
}
