/**
 * What a WebGPU adapter or WebGL context says about itself, and whether it is a software renderer.
 * Pure data: used in Node (Dawn) and inside Chromium alike.
 */

/** The adapter a GPU backend runs on, as reported in the CLI, bench JSON and parity reports. */
export interface GpuAdapterInfo {
  /** `webgpu` or `webgl`. */
  api: 'webgpu' | 'webgl';
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** Dawn's backend in Node (`opengles`, `vulkan`, ...); `chromium` inside the browser. */
  backend: string;
  /** A renderer running on the CPU (llvmpipe, lavapipe, SwiftShader, WARP) or an adapter flagged as fallback. */
  software: boolean;
  /** The limits that decide which inputs fit (bytes, or texels for textures). */
  limits: GpuLimits;
}

export interface GpuLimits {
  /** webgpu: the largest storage-buffer binding (every tfjs tensor is one). */
  maxStorageBufferBindingSize?: number;
  /** webgpu: the largest buffer. */
  maxBufferSize?: number;
  /** webgpu: workgroups per dispatch dimension. */
  maxComputeWorkgroupsPerDimension?: number;
  /** webgl: the largest texture side (tfjs stores every tensor as one texture). */
  maxTextureSize?: number;
}

/** Names of CPU renderers as drivers report them (Mesa, Google, Microsoft). */
const SOFTWARE_RENDERERS = /llvmpipe|lavapipe|softpipe|swiftshader|basic render driver|\bwarp\b|software/i;

/**
 * Software if the adapter says it is a fallback adapter, reports a CPU device type, or names a
 * CPU renderer: Dawn's GL ES backend on Mesa's llvmpipe reports isFallbackAdapter = false, so the
 * flag alone does not tell (measured).
 */
export function isSoftwareAdapter(info: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean; type?: string }): boolean {
  if (info.isFallbackAdapter) return true;
  if (info.type && /cpu/i.test(info.type)) return true;
  return [info.vendor, info.architecture, info.device, info.description].some((s) => !!s && SOFTWARE_RENDERERS.test(s));
}

/** One line: `webgpu: llvmpipe (OpenGL ES 3.2 Mesa 22.3.6) via Dawn opengles, software rendering`. */
export function describeAdapter(a: GpuAdapterInfo): string {
  const name = [a.vendor, a.device || a.architecture].filter(Boolean).join(' ') || 'unknown adapter';
  const desc = a.description && a.description !== name ? ` (${a.description})` : '';
  return `${name}${desc} via ${a.backend}${a.software ? ', software rendering' : ''}`;
}
