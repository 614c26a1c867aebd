/**
 * WebGPU in Node: Dawn from the `webgpu` npm package (an optional dependency) under tfjs's own
 * WebGPU backend.
 *
 * tfjs-backend-webgpu registers its factory only if `navigator.gpu` exists when it loads, and that
 * factory asks for an adapter without `featureLevel`, which Dawn's OpenGL ES backend (the one that
 * runs on Debian's stock Mesa) never gives: it only offers 'compatibility' adapters. So this module
 * picks the adapter itself and registers a factory that hands tfjs's WebGPUBackend a device with
 * the adapter's limits (as tfjs's own factory requests them).
 *
 * Settings found to work here (Debian 12, Mesa 22.3): Dawn `backend=opengles`,
 * `EGL_PLATFORM=surfaceless` (no display), `requestAdapter({ featureLevel: 'compatibility' })`.
 * Dawn's Vulkan backend does not start on Debian 12's lavapipe (Mesa 22.3 lacks
 * shader*ArrayDynamicIndexing); it is the one for real GPUs (`dawnBackend: 'vulkan'`).
 */
import { createRequire } from 'module';
import * as path from 'path';
import { pathToFileURL } from 'url';
import * as tf from '@tensorflow/tfjs-core';
import { GpuAdapterInfo, isSoftwareAdapter } from './adapter';

export type DawnBackend = 'opengles' | 'vulkan' | 'opengl' | 'd3d12' | 'metal';
export const DAWN_BACKENDS: readonly DawnBackend[] = ['opengles', 'vulkan', 'opengl', 'd3d12', 'metal'];

/** The default Dawn backend: `DEPTH_ANYTHING_DAWN_BACKEND`, else OpenGL ES (what runs on Mesa here). */
export function defaultDawnBackend(): DawnBackend {
  const v = process.env.DEPTH_ANYTHING_DAWN_BACKEND;
  if (v === undefined || v === '') return 'opengles';
  if (!DAWN_BACKENDS.includes(v as DawnBackend)) {
    throw new Error(`DEPTH_ANYTHING_DAWN_BACKEND must be one of ${DAWN_BACKENDS.join(', ')}; got "${v}"`);
  }
  return v as DawnBackend;
}

/* Minimal shapes of the WebGPU objects used here (the DOM lib's GPU types are not in Node's globals). */
interface Adapter {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean; type?: string };
  isFallbackAdapter?: boolean;
  features: Set<string>;
  limits: Record<string, number>;
  requestDevice(desc: object): Promise<unknown>;
}
interface Gpu { requestAdapter(opts?: object): Promise<Adapter | null> }
interface DawnModule { create(flags: string[]): Gpu; globals: Record<string, unknown> }

/*
 * `webgpu` is an ES module. With "module": "commonjs", tsc rewrites `import()` into `require()`,
 * which cannot load ES modules on Node 20; a Function-built import() is left alone. Jest's module
 * sandbox refuses dynamic import() without --experimental-vm-modules, so there the addon the
 * package wraps (dist/<platform>-<arch>/dawn.node, a plain CommonJS addon) is required directly.
 */
const importESM = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<unknown>;

async function loadDawn(): Promise<DawnModule> {
  const req = createRequire(__filename);
  let entry: string;
  try {
    entry = req.resolve('webgpu');
  } catch {
    throw new Error('backend "webgpu" needs the optional package "webgpu" (Dawn for Node), which is not installed (npm install webgpu), or use --backend wasm');
  }
  try {
    return (await importESM(pathToFileURL(entry).href)) as DawnModule;
  } catch (e) {
    const arch = process.platform === 'darwin' ? 'universal' : process.arch;
    const addon = path.join(path.dirname(entry), 'dist', `${process.platform}-${arch}`, 'dawn.node');
    try {
      return req(addon) as DawnModule;
    } catch (e2) {
      throw new Error(`backend "webgpu": the "webgpu" package does not load here (${(e as Error).message.split('\n')[0]}; ${(e2 as Error).message.split('\n')[0]}); use --backend wasm`);
    }
  }
}

export interface NodeWebGPUOptions {
  dawnBackend?: DawnBackend;
}

let started: { backend: DawnBackend; info: GpuAdapterInfo } | undefined;

/**
 * Finds a Dawn adapter and registers tfjs's `webgpu` backend on it (not yet activated: call
 * tf.setBackend('webgpu')). Returns what the adapter is; throws one line if there is none.
 * Once per process: a second call with another Dawn backend is refused.
 */
export async function registerNodeWebGPU(options: NodeWebGPUOptions = {}): Promise<GpuAdapterInfo> {
  const backend = options.dawnBackend ?? defaultDawnBackend();
  if (started) {
    if (started.backend !== backend) throw new Error(`backend "webgpu" already runs on Dawn ${started.backend} in this process; cannot switch to ${backend}`);
    return started.info;
  }
  // Mesa's EGL otherwise looks for an X11 or Wayland display and finds none on a server.
  if (backend === 'opengles' || backend === 'opengl') process.env.EGL_PLATFORM ??= 'surfaceless';
  const dawn = await loadDawn();
  Object.assign(globalThis, dawn.globals); // GPUBufferUsage, GPUMapMode, ... used by tfjs's kernels
  let gpu: Gpu;
  try {
    gpu = dawn.create([`backend=${backend}`]);
  } catch (e) {
    throw new Error(`backend "webgpu": Dawn cannot use its ${backend} backend here (${(e as Error).message.split('\n')[0]}); use --backend wasm`);
  }
  // GL ES adapters exist only at the compatibility feature level; on Vulkan and the others ask for core first.
  const levels = backend === 'opengles' || backend === 'opengl' ? ['compatibility'] : ['core', 'compatibility'];
  let adapter: Adapter | null = null;
  for (const featureLevel of levels) {
    adapter = await gpu.requestAdapter({ featureLevel, powerPreference: 'high-performance' }).catch(() => null);
    if (adapter) break;
  }
  if (!adapter) {
    const hint = backend === 'vulkan' ? ' (is a Vulkan driver installed? look for an ICD JSON under /usr/share/vulkan/icd.d)'
      : backend === 'opengles' ? ' (are Mesa\'s EGL and GLES libraries installed? libegl1, libgles2, libegl-mesa0)' : '';
    throw new Error(`backend "webgpu": Dawn found no ${backend} adapter${hint}; use --backend wasm, or DEPTH_ANYTHING_DAWN_BACKEND=vulkan|opengles`);
  }
  const raw = adapter.info ?? {};
  const L = adapter.limits;
  const info: GpuAdapterInfo = {
    api: 'webgpu',
    vendor: raw.vendor ?? '',
    architecture: raw.architecture ?? '',
    device: raw.device ?? '',
    description: raw.description ?? '',
    backend: `Dawn ${backend}`,
    // GPUAdapterInfo's fields are prototype getters: read them one by one (a spread copies none).
    software: isSoftwareAdapter({ vendor: raw.vendor, architecture: raw.architecture, device: raw.device, description: raw.description, type: raw.type, isFallbackAdapter: raw.isFallbackAdapter ?? adapter.isFallbackAdapter }),
    limits: {
      maxStorageBufferBindingSize: L.maxStorageBufferBindingSize,
      maxBufferSize: L.maxBufferSize,
      maxComputeWorkgroupsPerDimension: L.maxComputeWorkgroupsPerDimension,
    },
  };
  const chosen = adapter;
  // tfjs's WebGPUBackend checks navigator.gpu when it is constructed; the global is removed right
  // after, or the Dawn instance it holds keeps Node's event loop alive and the process never exits.
  const nav = globalThis as { navigator?: unknown };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { WebGPUBackend } = require('@tensorflow/tfjs-backend-webgpu') as typeof import('@tensorflow/tfjs-backend-webgpu');
  tf.registerBackend('webgpu', async () => {
    const requiredFeatures = ['timestamp-query'].filter((f) => chosen.features.has(f));
    // The limits tfjs's own factory requests: the adapter's, not WebGPU's defaults (128 MiB buffers).
    const requiredLimits = Object.fromEntries(['maxComputeWorkgroupStorageSize', 'maxComputeWorkgroupsPerDimension', 'maxStorageBufferBindingSize',
      'maxBufferSize', 'maxComputeWorkgroupSizeX', 'maxComputeInvocationsPerWorkgroup'].map((k) => [k, L[k]]));
    const device = await chosen.requestDevice({ requiredFeatures, requiredLimits });
    // Node 20 has no navigator; later Node versions have one without `gpu`.
    const existing = nav.navigator as Record<string, unknown> | undefined;
    if (existing) Object.defineProperty(existing, 'gpu', { value: gpu, configurable: true });
    else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    try {
      return new WebGPUBackend(device as ConstructorParameters<typeof WebGPUBackend>[0], raw as ConstructorParameters<typeof WebGPUBackend>[1]);
    } finally {
      if (existing) delete existing.gpu;
      else delete nav.navigator;
    }
  }, 1);
  started = { backend, info };
  return info;
}

/** The adapter `webgpu` runs on in this process, once registerNodeWebGPU has succeeded. */
export function nodeWebGPUAdapter(): GpuAdapterInfo | undefined {
  return started?.info;
}
