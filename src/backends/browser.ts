/**
 * tfjs backends in a page. `auto` tries webgpu > webgl > wasm > cpu among the backends the bundle
 * registered (import '@tensorflow/tfjs-backend-webgl' etc., or use the package's full entry), and
 * passes over software renderers (SwiftShader, llvmpipe: slower than wasm) unless asked by name.
 */
import * as tf from '@tensorflow/tfjs-core';
import { installCpuKernels } from './cpu_kernels';
import { installWasmGemm } from './wasm_gemm';

export type BrowserBackendName = 'auto' | 'webgpu' | 'webgl' | 'wasm' | 'cpu';
export const BROWSER_BACKENDS: readonly BrowserBackendName[] = ['auto', 'webgpu', 'webgl', 'wasm', 'cpu'];

export interface BrowserBackendInfo {
  name: Exclude<BrowserBackendName, 'auto'>;
  /** e.g. "webgl (ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device ...)), software rendering)". */
  description: string;
  /** True when the GPU backend runs on a CPU renderer (timings are not GPU timings). */
  software?: boolean;
  /** What auto passed over, and why. */
  warning?: string;
}

export interface BrowserBackendOptions {
  /**
   * wasm: where the tfjs-backend-wasm `.wasm` files are served (a folder URL ending in '/', or a
   * map file name -> URL). Bundlers do not copy them: serve node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm.
   */
  wasmPaths?: string | Record<string, string>;
}

let setWasmPaths: ((paths: string | Record<string, string>) => void) | undefined;

/** The full entry hands over tfjs-backend-wasm's `setWasmPaths` (the core entry does not import it). */
export function provideWasmPathsSetter(fn: (paths: string | Record<string, string>) => void): void {
  setWasmPaths = fn;
}

export class BackendError extends Error {
  constructor(message: string) { super(message); this.name = 'BackendError'; }
}

const SOFTWARE = /swiftshader|llvmpipe|softpipe|software|basic render/i;

function webglRenderer(): string | undefined {
  try {
    const canvas = typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(1, 1) : document.createElement('canvas');
    const gl = canvas.getContext('webgl2') as WebGL2RenderingContext | null;
    if (!gl) return undefined;
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    const r = String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
    gl.getExtension('WEBGL_lose_context')?.loseContext();
    return r;
  } catch {
    return undefined;
  }
}

interface GpuAdapterLike { info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean }; isFallbackAdapter?: boolean }

async function webgpuAdapter(): Promise<GpuAdapterLike | null> {
  const gpu = (globalThis.navigator as unknown as { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } } | undefined)?.gpu;
  if (!gpu) return null;
  try {
    return await gpu.requestAdapter();
  } catch {
    return null;
  }
}

/**
 * What a GPU backend would run on here, without starting it (for a page to warn before a run):
 * available, whether the renderer is a software one (SwiftShader, llvmpipe: slower than wasm), and
 * the renderer or adapter as the browser names it.
 */
export async function probeGpuBackend(name: 'webgpu' | 'webgl'): Promise<{ available: boolean; software: boolean; detail: string }> {
  if (name === 'webgl') {
    const renderer = webglRenderer();
    return renderer ? { available: true, software: SOFTWARE.test(renderer), detail: renderer } : { available: false, software: false, detail: 'no WebGL2' };
  }
  const adapter = await webgpuAdapter();
  if (!adapter) return { available: false, software: false, detail: 'no WebGPU adapter' };
  const info = adapter.info ?? {};
  const software = Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter) || SOFTWARE.test(`${info.vendor} ${info.architecture} ${info.description}`);
  return { available: true, software, detail: [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'adapter' };
}

async function trySet(name: string): Promise<string | undefined> {
  try {
    if (!(await tf.setBackend(name))) return `tf.setBackend('${name}') returned false`;
    await tf.ready();
    return undefined;
  } catch (e) {
    return (e as Error).message ?? String(e);
  }
}

/** Starts a backend; throws a BackendError in one sentence when a named one cannot start. */
export async function initBrowserBackend(requested: BrowserBackendName = 'auto', opts: BrowserBackendOptions = {}): Promise<BrowserBackendInfo> {
  if (!BROWSER_BACKENDS.includes(requested)) throw new BackendError(`unknown backend "${requested}"; expected one of ${BROWSER_BACKENDS.join(', ')}`);
  const registered = new Set(Object.keys(tf.engine().registryFactory));
  installCpuKernels(); // the page's bundle registered tfjs-backend-cpu (if it did) by now
  const order = requested === 'auto' ? (['webgpu', 'webgl', 'wasm', 'cpu'] as const) : [requested];
  const skipped: string[] = [];
  for (const name of order) {
    if (!registered.has(name)) {
      if (requested !== 'auto') throw new BackendError(`backend "${name}" is not in this bundle; import '@tensorflow/tfjs-backend-${name}'`);
      continue;
    }
    let detail: string = name;
    let software = false;
    if (name === 'webgpu') {
      const adapter = await webgpuAdapter();
      if (!adapter) {
        if (requested !== 'auto') throw new BackendError('backend "webgpu" cannot start: this browser has no WebGPU adapter (navigator.gpu); try webgl or wasm');
        skipped.push('webgpu (no adapter)');
        continue;
      }
      const info = adapter.info ?? {};
      software = Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter) || SOFTWARE.test(`${info.vendor} ${info.architecture} ${info.description}`);
      detail = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'adapter';
    } else if (name === 'webgl') {
      const renderer = webglRenderer();
      if (!renderer) {
        if (requested !== 'auto') throw new BackendError('backend "webgl" cannot start: this browser gives no WebGL2 context; try wasm');
        skipped.push('webgl (no WebGL2)');
        continue;
      }
      software = SOFTWARE.test(renderer);
      detail = renderer;
    } else if (name === 'wasm' && opts.wasmPaths !== undefined) {
      if (!setWasmPaths) throw new BackendError('wasmPaths given but the wasm backend is not in this bundle');
      setWasmPaths(opts.wasmPaths);
    }
    if (requested === 'auto' && software) {
      skipped.push(`${name} (software rendering: ${detail})`);
      continue;
    }
    const failure = await trySet(name);
    if (failure !== undefined) {
      if (requested !== 'auto') {
        const hint = name === 'wasm' ? ' (are the .wasm files served? see the wasmPaths option)' : '';
        throw new BackendError(`backend "${name}" failed to start: ${failure}${hint}`);
      }
      skipped.push(`${name} (${failure})`);
      continue;
    }
    // wasm: the relaxed-SIMD products where the page runs tfjs-backend-wasm on one thread (a page
    // with its threaded build keeps XNNPACK's threads: a pool of our own needs Node's workers).
    const gemm = name === 'wasm' && (await installWasmGemm(1)) === null;
    const description = name === 'wasm' || name === 'cpu'
      ? `${name}${gemm ? ' (relaxed-SIMD matrix products)' : ''}`
      : `${name} (${detail}${software ? ', software rendering' : ''})`;
    return { name, description, ...(software ? { software } : {}), ...(skipped.length ? { warning: `auto passed over ${skipped.join('; ')}` } : {}) };
  }
  throw new BackendError(`no tfjs backend could start (${skipped.join('; ')})`);
}
