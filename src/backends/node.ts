/**
 * Backend selection. `auto` prefers a hardware WebGPU adapter (Dawn, from the optional `webgpu`
 * package, started only where a GPU can exist; never a software renderer such as llvmpipe), then libtensorflow (tfjs-node-gpu, then
 * tfjs-node: optional dependencies that only install where libtensorflow can be downloaded), then
 * wasm (multithreaded in Node through src/backends/wasm_threads.ts), then cpu. `webgl` exists only in a
 * browser (parity/bench --browser run in headless Chromium).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { defaultThreads, startWasm } from './wasm_threads';
import { GpuAdapterInfo, describeAdapter } from './adapter';
import { DawnBackend, registerNodeWebGPU } from './node_webgpu';
import { hardwareGpuMayExist } from './gpu_probe';
import { installCpuKernels } from './cpu_kernels';


installCpuKernels();
export type BackendName = 'auto' | 'tensorflow' | 'wasm' | 'cpu' | 'webgpu' | 'webgl';
export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'tensorflow', 'wasm', 'cpu', 'webgpu', 'webgl'];

export interface BackendInfo {
  /** tfjs's name for the active backend: `webgpu`, `tensorflow`, `wasm` or `cpu`. */
  name: string;
  /** Human-readable: which package and device (and threads, for wasm). */
  description: string;
  /** wasm only: threads XNNPACK runs with. */
  threads?: number;
  /** webgpu/webgl: the adapter it runs on (software rendering flagged). */
  adapter?: GpuAdapterInfo;
  /** Set when something asked for could not be had (e.g. wasm threads fell back to 1, auto skipped a software GPU). */
  warning?: string;
}

export interface BackendOptions {
  /**
   * wasm only: threads for XNNPACK's matrix products and convolutions (default: the environment
   * variable DEPTH_ANYTHING_THREADS, else the number of logical cores, at most 8). Fixed when the
   * wasm backend first starts in a process.
   */
  threads?: number;
  /** Print `warning` (if any) on stderr (default true). */
  warn?: boolean;
  /**
   * webgpu in Node: Dawn's backend (default: DEPTH_ANYTHING_DAWN_BACKEND, else `opengles`, which
   * runs on Mesa; `vulkan` for real GPUs).
   */
  dawnBackend?: DawnBackend;
}

let tensorflowPackage: string | null | undefined;

/** Loads tfjs-node-gpu or tfjs-node once; returns the package that registered `tensorflow`. */
function loadTensorflow(): string | null {
  if (tensorflowPackage !== undefined) return tensorflowPackage;
  tensorflowPackage = null;
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require(pkg);
      if (tf.findBackendFactory('tensorflow')) { tensorflowPackage = pkg; break; }
    } catch {
      // Not installed, or libtensorflow missing: try the next one.
    }
  }
  return tensorflowPackage;
}

async function trySet(name: string): Promise<boolean> {
  try {
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

/** `DEPTH_ANYTHING_THREADS`: the default thread count when the caller names none. */
function threadsFromEnv(): number | undefined {
  const v = process.env.DEPTH_ANYTHING_THREADS;
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`DEPTH_ANYTHING_THREADS must be a positive integer; got "${v}"`);
  return n;
}

/** Activates a backend and says which one runs. Throws if an explicitly named one cannot start. */
export async function initBackend(requested: BackendName = 'auto', options: BackendOptions = {}): Promise<BackendInfo> {
  if (!BACKEND_NAMES.includes(requested)) {
    throw new Error(`unknown backend "${requested}"; expected one of ${BACKEND_NAMES.join(', ')}`);
  }
  const threads = options.threads ?? threadsFromEnv() ?? defaultThreads();
  if (!Number.isInteger(threads) || threads < 1) {
    throw new Error(`threads must be a positive integer; got ${options.threads}`);
  }
  const order: Exclude<BackendName, 'auto'>[] = requested === 'auto' ? ['webgpu', 'tensorflow', 'wasm', 'cpu'] : [requested];
  let notice: string | undefined;
  const warn = (msg: string) => { if (options.warn !== false) process.stderr.write(`depth-anything: ${msg}\n`); };
  for (const name of order) {
    if (name === 'webgl') {
      throw new Error('backend "webgl" runs only in a browser (Node has no WebGL); in Node use --backend webgpu or wasm, or run parity/bench with --browser (headless Chromium)');
    }
    if (name === 'webgpu') {
      // auto: no render node, no WebGPU worth starting (Dawn would find a software renderer at best).
      if (requested === 'auto' && !hardwareGpuMayExist()) continue;
      let adapter: GpuAdapterInfo;
      try {
        adapter = await registerNodeWebGPU(options.dawnBackend ? { dawnBackend: options.dawnBackend } : {});
      } catch (e) {
        if (requested !== 'auto') throw e;
        continue; // no webgpu package or no adapter: auto goes on quietly
      }
      if (requested === 'auto' && adapter.software) {
        notice = `auto skips webgpu on ${describeAdapter(adapter)} (a CPU renderer: slower than wasm); --backend webgpu forces it`;
        warn(notice);
        continue;
      }
      if (!(await trySet('webgpu'))) {
        if (requested !== 'auto') throw new Error(`backend "webgpu" failed to initialise on ${describeAdapter(adapter)}; use --backend wasm`);
        continue;
      }
      return { name, description: `webgpu (${describeAdapter(adapter)})`, adapter, ...(notice ? { warning: notice } : {}) };
    }
    if (name === 'tensorflow') {
      const pkg = loadTensorflow();
      if (pkg && (await trySet('tensorflow'))) {
        return { name: 'tensorflow', description: `tensorflow (${pkg}${pkg.endsWith('-gpu') ? ', CUDA' : ', CPU'})`, ...(notice ? { warning: notice } : {}) };
      }
      if (requested === 'tensorflow') {
        throw new Error('backend "tensorflow" needs @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu with libtensorflow installed; neither loads here (use --backend wasm or cpu)');
      }
      continue;
    }
    if (name === 'wasm') {
      let started;
      try {
        started = await startWasm(threads);
      } catch (e) {
        if (requested !== 'auto') throw new Error(`backend "wasm" failed to initialise: ${(e as Error).message}`);
        continue;
      }
      if (started.warning) warn(started.warning);
      const t = started.threads;
      const warning = [notice, started.warning].filter(Boolean).join('; ');
      const products = started.gemm === true ? ', relaxed-SIMD matrix products' : '';
      return { name, description: `wasm (${t} thread${t === 1 ? '' : 's'}${products})`, threads: t, ...(warning ? { warning } : {}) };
    }
    if (await trySet(name)) {
      // The cpu backend prints an advert for tfjs-node on first use; `auto` already prefers it.
      if (name === 'cpu') (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
      return { name, description: 'cpu (plain JavaScript)', ...(notice ? { warning: notice } : {}) };
    }
    if (requested !== 'auto') throw new Error(`backend "${name}" failed to initialise`);
  }
  throw new Error('no tfjs backend could be initialised');
}

/**
 * What `DepthAnything.load` and `Segmenter.load` start: the backend they name (or `auto`), or,
 * when they name none and one is already active, that one as it is.
 */
export async function backendForLoad(opts: { backend?: BackendName; threads?: number }): Promise<BackendInfo> {
  if (opts.backend === undefined && opts.threads === undefined && tf.engine().backendName) {
    return { name: tf.getBackend(), description: tf.getBackend() };
  }
  return initBackend(opts.backend ?? 'auto', opts.threads !== undefined ? { threads: opts.threads } : {});
}
