/**
 * Inside a page: start tfjs's webgl or webgpu backend and say what it runs on. Used by the pages
 * that `parity --browser` and `bench --browser` drive (src/verify/pages/parity_page.ts, bench_page.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { GpuAdapterInfo, isSoftwareAdapter } from '../backends/adapter';

export type PageBackend = 'webgl' | 'webgpu' | 'cpu';

interface WebGpuAdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
  limits: Record<string, number>;
}

async function webgpuInfo(): Promise<GpuAdapterInfo> {
  const gpu = (navigator as unknown as { gpu?: { requestAdapter(o?: object): Promise<WebGpuAdapterLike | null> } }).gpu;
  // The adapter tfjs's factory asks for (same options), asked again to read what it is.
  const a = gpu ? await gpu.requestAdapter({ powerPreference: 'high-performance' }) : null;
  if (!a) throw new Error('backend "webgpu": this browser gives no WebGPU adapter (Chromium needs --enable-unsafe-webgpu on Linux, and a page from http://127.0.0.1 or file://); use --backend webgl');
  const i = a.info ?? {};
  const raw = { vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description, isFallbackAdapter: i.isFallbackAdapter ?? a.isFallbackAdapter };
  return {
    api: 'webgpu', vendor: raw.vendor ?? '', architecture: raw.architecture ?? '', device: raw.device ?? '', description: raw.description ?? '',
    backend: 'chromium', software: isSoftwareAdapter(raw),
    limits: {
      maxStorageBufferBindingSize: a.limits.maxStorageBufferBindingSize,
      maxBufferSize: a.limits.maxBufferSize,
      maxComputeWorkgroupsPerDimension: a.limits.maxComputeWorkgroupsPerDimension,
    },
  };
}

function webglInfo(): GpuAdapterInfo {
  const gl = (tf.backend() as unknown as { gpgpu: { gl: WebGL2RenderingContext } }).gpgpu.gl;
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  const vendor = String(gl.getParameter(ext ? ext.UNMASKED_VENDOR_WEBGL : gl.VENDOR));
  const renderer = String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
  return {
    api: 'webgl', vendor, architecture: '', device: renderer, description: String(gl.getParameter(gl.VERSION)),
    backend: 'chromium', software: isSoftwareAdapter({ vendor, device: renderer }),
    limits: { maxTextureSize: tf.env().getNumber('WEBGL_MAX_TEXTURE_SIZE') },
  };
}

/**
 * Activates `name` and returns its adapter (GPU backends). A backend that cannot start is one
 * line naming it and what to use instead; WebGL without float32 render targets is refused, since
 * tfjs would silently compute in float16.
 */
export async function startPageBackend(name: PageBackend, flags: Record<string, number | boolean> = {}): Promise<GpuAdapterInfo | undefined> {
  for (const [k, v] of Object.entries(flags)) tf.env().set(k, v);
  let adapter: GpuAdapterInfo | undefined;
  if (name === 'webgpu') adapter = await webgpuInfo();
  let ok = false;
  try {
    ok = await tf.setBackend(name);
  } catch {
    ok = false;
  }
  if (!ok) throw new Error(`backend "${name}" failed to initialise in this browser; use ${name === 'webgpu' ? 'webgl' : 'webgpu or cpu'}`);
  if (name === 'webgl') {
    if (!tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED')) {
      throw new Error('backend "webgl": this browser cannot render to float32 textures, so tfjs would compute in float16; use webgpu or cpu');
    }
    adapter = webglInfo();
  }
  return adapter;
}
