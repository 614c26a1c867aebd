/**
 * Multithreaded wasm backend in Node.
 *
 * tfjs-backend-wasm 4.22 ships a threaded SIMD build (XNNPACK on an Emscripten pthread pool) but
 * keeps it off in Node (flag WASM_HAS_MULTITHREAD_SUPPORT is false there, tfjs issue #3830), for
 * three reasons this module works around, all from our side, without touching node_modules:
 *
 * 1. The pthread worker script is handed to `new Worker()` as a `blob:` URL, which Node's Worker
 *    refuses (ERR_WORKER_PATH). We write that script (the package's own
 *    `wasm-out/tfjs-backend-wasm-threaded-simd.worker.js` contents) to a real file and, while the
 *    backend starts, make `URL.createObjectURL` return that file's path.
 * 2. The worker then receives the main script as a Blob it would also turn into a `blob:` URL and
 *    read with `fs`. A one-line prelude in our worker file makes its `URL.createObjectURL` return
 *    the package's `wasm-out/tfjs-backend-wasm-threaded-simd.js` (the same Emscripten build as the
 *    bundled one; the `.wasm` files are byte-identical).
 * 3. The C++ side sizes its pool as min(requested, logical cores / 2) (it assumes two hyperthreads
 *    per core), so 2 cores would give 1 thread. While the backend starts, `os.cpus()` reports
 *    2 x requested entries; Emscripten reads it once, at start-up.
 *
 * Emscripten `unref()`s idle pool workers but keeps the ones running XNNPACK's threads referenced,
 * which would keep Node alive after the script ends; we unref every worker it created.
 *
 * All hooks are installed only around `tf.setBackend('wasm')` and removed afterwards. Anything
 * unexpected (files missing, a different package layout, an error in a worker, a start-up that
 * hangs) ends in the plain single-threaded SIMD build and a message saying why.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
// `import x = require()` gives the modules' real export objects (not esModuleInterop copies):
// the hooks below must patch what Emscripten itself reads.
import os = require('os');
import workerThreads = require('worker_threads');
import * as tf from '@tensorflow/tfjs-core';
import * as tfwasm from '@tensorflow/tfjs-backend-wasm';
import { installNodeWasmGemm } from './wasm_gemm_pool';

/** XNNPACK's pool in tfjs-backend-wasm is capped at the 8 pre-created pthread workers. */
export const MAX_WASM_THREADS = 8;
const START_TIMEOUT_MS = 60_000;
const WORKER_MODULE = '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js';
const MAIN_SCRIPT = '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js';

export interface WasmStart {
  /** Threads XNNPACK actually runs with. */
  threads: number;
  /** Whether matrix products take the relaxed-SIMD kernel (src/backends/wasm_gemm.ts), else why not. */
  gemm: true | string;
  /** Why fewer threads than requested run, if so. */
  warning?: string;
}

/** Logical cores available to this process. */
export function defaultThreads(): number {
  const n = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(MAX_WASM_THREADS, n));
}

/** Threads of the running wasm backend, or null if it has not been started in this process. */
export function runningWasmThreads(): number | null {
  try {
    return tfwasm.getThreadsCount();
  } catch {
    return null;
  }
}

/** Test seam: lets a test point the worker at a broken main script to exercise the fallback. */
export interface WasmThreadsTestHooks { mainScript?: string }

/**
 * Starts tfjs's wasm backend with `threads` XNNPACK threads (1 = the plain SIMD build). If the
 * backend already runs, its thread count cannot change any more: says so in `warning`.
 */
export async function startWasm(threads: number, hooks: WasmThreadsTestHooks = {}): Promise<WasmStart> {
  const started = await startBackend(threads, hooks);
  const why = await installNodeWasmGemm(started.threads);
  return { ...started, gemm: why ?? true };
}

async function startBackend(threads: number, hooks: WasmThreadsTestHooks): Promise<Omit<WasmStart, 'gemm'>> {
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`threads must be a positive integer; got ${threads}`);
  const running = runningWasmThreads();
  if (running !== null) {
    if (!(await tf.setBackend('wasm'))) throw new Error('backend "wasm" failed to initialise');
    return running === Math.min(threads, MAX_WASM_THREADS) ? { threads: running }
      : { threads: running, warning: `the wasm backend already runs with ${running} thread(s) in this process; the thread count is fixed when it first starts` };
  }
  let warning: string | undefined;
  if (threads > MAX_WASM_THREADS) warning = `tfjs-backend-wasm runs at most ${MAX_WASM_THREADS} threads; using ${MAX_WASM_THREADS}`;
  if (threads > 1) {
    const why = await startThreaded(Math.min(threads, MAX_WASM_THREADS), hooks);
    if (why === null) {
      const got = tfwasm.getThreadsCount();
      if (got !== Math.min(threads, MAX_WASM_THREADS)) warning = `asked for ${threads} wasm threads, XNNPACK runs ${got}`;
      return warning ? { threads: got, warning } : { threads: got };
    }
    warning = `wasm threads unavailable (${why}); running on 1 thread`;
  }
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  if (!(await tf.setBackend('wasm'))) throw new Error('backend "wasm" failed to initialise');
  return warning ? { threads: tfwasm.getThreadsCount(), warning } : { threads: tfwasm.getThreadsCount() };
}

/** Why the threaded build cannot start here, or null if it may. */
async function precheck(hooks: WasmThreadsTestHooks): Promise<{ why: string } | { workerSource: string; mainScript: string }> {
  if (typeof SharedArrayBuffer === 'undefined') return { why: 'SharedArrayBuffer is not available' };
  if (!(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'))) return { why: 'the threaded build needs WebAssembly SIMD' };
  // The probe tfjs itself uses in browsers: a module with an atomic instruction on shared memory.
  const atomics = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5, 4, 1, 3, 1, 1, 10, 11, 1, 9, 0, 65, 0, 254, 16, 2, 0, 26, 11]);
  const wasmApi = (globalThis as unknown as { WebAssembly?: { validate(bytes: Uint8Array): boolean } }).WebAssembly;
  if (!wasmApi?.validate(atomics)) return { why: 'this Node has no WebAssembly threads' };
  let workerSource: string;
  let mainScript: string;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    workerSource = (require(WORKER_MODULE) as { wasmWorkerContents: unknown }).wasmWorkerContents as string;
    mainScript = hooks.mainScript ?? require.resolve(MAIN_SCRIPT);
  } catch (e) {
    return { why: `cannot find the threaded build's scripts in @tensorflow/tfjs-backend-wasm ${tfwasm.version_wasm}: ${(e as Error).message}` };
  }
  // The worker code path our prelude relies on: the main script arrives as a Blob turned into a URL.
  if (typeof workerSource !== 'string' || !workerSource.includes('URL.createObjectURL(e.data.urlOrBlob)')) {
    return { why: `@tensorflow/tfjs-backend-wasm ${tfwasm.version_wasm} has a pthread worker this workaround does not know (written for 4.22)` };
  }
  return { workerSource, mainScript };
}

/**
 * Writes the worker script once per content (named by its hash, written to a temporary name and
 * renamed, so concurrent processes never read a half-written file).
 */
function writeWorkerFile(workerSource: string, mainScript: string): string {
  // The package escapes newlines the same way before making its Blob: the source holds "\n"
  // inside string literals that must stay escapes.
  const body = `// Written by depth-anything-tfjs (src/backends/wasm_threads.ts): tfjs-backend-wasm's pthread worker as a file Node's Worker accepts.\n`
    + `URL.createObjectURL = function () { return ${JSON.stringify(mainScript)}; }; URL.revokeObjectURL = function () {};\n`
    + workerSource.replace(/\n/g, '\\n');
  const hash = crypto.createHash('sha256').update(body).digest('hex').slice(0, 16);
  const dir = path.join(os.tmpdir(), 'depth-anything-tfjs');
  const file = path.join(dir, `tfjs-wasm-worker-${hash}.js`);
  if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === body) return file;
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  fs.writeFileSync(tmp, body);
  fs.renameSync(tmp, file);
  return file;
}

/** Tries the threaded build; null on success, else the reason it failed (backend left unset). */
async function startThreaded(threads: number, hooks: WasmThreadsTestHooks): Promise<string | null> {
  const pre = await precheck(hooks);
  if ('why' in pre) return pre.why;
  let workerFile: string;
  try {
    workerFile = writeWorkerFile(pre.workerSource, pre.mainScript);
  } catch (e) {
    return `cannot write the worker script to ${os.tmpdir()}: ${(e as Error).message}`;
  }

  const created: workerThreads.Worker[] = [];
  let starting = true;
  let abandoned = false;
  let workerError: Error | null = null;
  const OriginalWorker = workerThreads.Worker;
  /**
   * Records the pthread workers (to unref them, or terminate them after a failure). While the
   * backend starts (or after a failed start), an error from a worker fails the start instead of
   * ending the process: Emscripten rethrows worker errors from their 'error' listener.
   */
  class TrackedWorker extends OriginalWorker {
    constructor(filename: string | URL, options?: workerThreads.WorkerOptions) {
      super(filename, options);
      created.push(this);
    }

    override on(event: string | symbol, listener: (...args: any[]) => void): this {
      if (event !== 'error') return super.on(event, listener);
      return super.on(event, (e: Error) => {
        try {
          listener(e);
        } catch (thrown) {
          if (abandoned) return; // a worker of a failed start, being terminated
          if (!starting) throw thrown;
          workerError = thrown as Error;
        }
      });
    }
  }
  const globals = globalThis as unknown as { Worker?: unknown };
  const globalWorkerBefore = globals.Worker;
  const originalCreateObjectURL = URL.createObjectURL;
  const originalCpus = os.cpus;

  const mutableWorkerThreads = workerThreads as { Worker: typeof workerThreads.Worker };
  const mutableOs = os as { cpus: typeof os.cpus };
  const install = (): void => {
    mutableWorkerThreads.Worker = TrackedWorker;
    URL.createObjectURL = (obj: Blob): string =>
      (obj && obj.type === 'application/javascript' ? workerFile : originalCreateObjectURL(obj));
    mutableOs.cpus = (): os.CpuInfo[] => {
      const real = originalCpus.call(os);
      return Array.from({ length: 2 * threads }, (_, i) => real[i % Math.max(1, real.length)] as os.CpuInfo);
    };
  };
  const uninstall = (): void => {
    mutableWorkerThreads.Worker = OriginalWorker;
    URL.createObjectURL = originalCreateObjectURL;
    mutableOs.cpus = originalCpus;
    // Emscripten copies worker_threads.Worker to the global Worker; give the real class back.
    if (globals.Worker === TrackedWorker) globals.Worker = globalWorkerBefore ?? OriginalWorker;
  };

  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  tfwasm.setThreadsCount(threads);
  install();
  let ok = false;
  let reason = "tf.setBackend('wasm') returned false";
  let timer: NodeJS.Timeout | undefined;
  let poll: NodeJS.Timeout | undefined;
  try {
    // A failed worker leaves Emscripten waiting for ever: watch for that, and for a hang.
    const failed = new Promise<boolean>((resolve) => {
      poll = setInterval(() => { if (workerError) resolve(false); }, 20);
      timer = setTimeout(() => { reason = `start-up took over ${START_TIMEOUT_MS / 1000} s`; resolve(false); }, START_TIMEOUT_MS);
    });
    ok = await Promise.race([tf.setBackend('wasm').catch((e: Error) => { reason = e.message; return false; }), failed]);
  } finally {
    clearInterval(poll);
    clearTimeout(timer);
    uninstall();
  }
  starting = false;
  if (ok && !workerError) {
    for (const w of created) w.unref();
    return null;
  }
  if (workerError) reason = `a pthread worker failed: ${(workerError as Error).message}`;
  abandoned = true;
  for (const w of created) void w.terminate();
  tfwasm.setThreadsCount(1);
  return reason;
}
