/**
 * Backend selection. `auto` prefers libtensorflow (tfjs-node-gpu, then tfjs-node: optional
 * dependencies that only install where libtensorflow can be downloaded), then wasm, then cpu.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';

export type BackendName = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

export interface BackendInfo {
  /** tfjs's name for the active backend: `tensorflow`, `wasm` or `cpu`. */
  name: string;
  /** Human-readable: which package and device. */
  description: string;
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

/** Activates a backend and says which one runs. Throws if an explicitly named one cannot start. */
export async function initBackend(requested: BackendName = 'auto'): Promise<BackendInfo> {
  if (!BACKEND_NAMES.includes(requested)) {
    throw new Error(`unknown backend "${requested}"; expected one of ${BACKEND_NAMES.join(', ')}`);
  }
  const order: Exclude<BackendName, 'auto'>[] = requested === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [requested];
  for (const name of order) {
    if (name === 'tensorflow') {
      const pkg = loadTensorflow();
      if (pkg && (await trySet('tensorflow'))) {
        return { name: 'tensorflow', description: `tensorflow (${pkg}${pkg.endsWith('-gpu') ? ', CUDA' : ', CPU'})` };
      }
      if (requested === 'tensorflow') {
        throw new Error('backend "tensorflow" needs @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu with libtensorflow installed; neither loads here (use --backend wasm or cpu)');
      }
      continue;
    }
    if (await trySet(name)) {
      return { name, description: name === 'wasm' ? `wasm (${wasmThreads()} thread${wasmThreads() === 1 ? '' : 's'})` : 'cpu (plain JavaScript)' };
    }
    if (requested !== 'auto') throw new Error(`backend "${name}" failed to initialise`);
  }
  throw new Error('no tfjs backend could be initialised');
}

/** Threads the wasm backend runs with (1 unless its threaded build was started). */
export function wasmThreads(): number {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
    return wasm.getThreadsCount();
  } catch {
    return 1;
  }
}
