/**
 * GPU limits, checked before a pass: a tensor past them does not fail cleanly.
 * - webgpu: every tfjs tensor is one GPU buffer bound as a storage buffer. Past
 *   maxStorageBufferBindingSize (128 MiB on Dawn's GL ES backend here; 1 GiB in Chromium's
 *   SwiftShader) Dawn reports a validation error, the dispatch is dropped and the result reads as
 *   zeros: silently wrong output (measured).
 * - webgl: every tensor is one texture; tfjs throws deep inside a kernel when the texture it needs
 *   exceeds WEBGL_MAX_TEXTURE_SIZE (8192 in SwiftShader). Unpacked textures hold one value per
 *   texel, packed ones four (2x2), and conv2d's im2col matrix (3x3 convolutions, packed) is the
 *   largest tensor of the DPT head.
 * Each model lists the largest tensors of its pass from its configuration alone (the depth
 * model: src/depth/limits.ts; segmentation: src/semseg/limits.ts); the checks here hold such a
 * list against the active backend and say which tensor, which limit, and what size fits.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface PassTensor {
  name: string;
  shape: number[];
  /** Laid out packed (2x2 values per texel) on webgl. */
  packed?: boolean;
}

export const elements = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** The largest tensors of a model's pass at H x W on `backend`. */
export type PassTensors = (H: number, W: number, backend: string) => PassTensor[];

export interface LimitProblem {
  tensor: PassTensor;
  /** What it needs and what the limit allows, in the limit's unit. */
  need: number;
  limit: number;
  limitName: string;
  unit: 'bytes' | 'texels';
}

/** The limits of the active tfjs backend (undefined: not a GPU backend). */
export function activeGpuLimits(): { backend: 'webgpu'; maxBinding: number; maxBuffer: number } | { backend: 'webgl'; maxTextureSize: number } | undefined {
  const name = tf.getBackend();
  if (name === 'webgpu') {
    const limits = (tf.backend() as unknown as { device: { limits: Record<string, number> } }).device.limits;
    return { backend: 'webgpu', maxBinding: limits.maxStorageBufferBindingSize, maxBuffer: limits.maxBufferSize };
  }
  if (name === 'webgl') return { backend: 'webgl', maxTextureSize: tf.env().getNumber('WEBGL_MAX_TEXTURE_SIZE') };
  return undefined;
}

export type GpuLimits = NonNullable<ReturnType<typeof activeGpuLimits>>;

/** The tensors of `list` past `limits` (bytes per binding on webgpu, texels per texture on webgl). */
export function tensorsPastLimits(list: PassTensor[], limits: GpuLimits): LimitProblem[] {
  const out: LimitProblem[] = [];
  for (const t of list) {
    const n = elements(t.shape);
    if (limits.backend === 'webgpu') {
      const bytes = 4 * n;
      if (bytes > limits.maxBinding) out.push({ tensor: t, need: bytes, limit: limits.maxBinding, limitName: 'maxStorageBufferBindingSize', unit: 'bytes' });
      else if (bytes > limits.maxBuffer) out.push({ tensor: t, need: bytes, limit: limits.maxBuffer, limitName: 'maxBufferSize', unit: 'bytes' });
    } else {
      const max = limits.maxTextureSize;
      const texels = t.packed ? Math.ceil(n / 4) : n;
      if (texels > max * max) out.push({ tensor: t, need: texels, limit: max * max, limitName: `WEBGL_MAX_TEXTURE_SIZE ${max} (${max}x${max} texels)`, unit: 'texels' });
    }
  }
  return out;
}

const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** The worst of `problems` (need over limit) said as "NAME [shape] needs N, past the LIMIT". */
export function describeWorst(problems: LimitProblem[]): string {
  const worst = problems.reduce((a, b) => (b.need / b.limit > a.need / a.limit ? b : a));
  const need = worst.unit === 'bytes' ? mb(worst.need) : `${worst.need} texels`;
  const limit = worst.unit === 'bytes' ? `${worst.limitName} of this adapter (${mb(worst.limit)})` : worst.limitName;
  return `${worst.tensor.name} [${worst.tensor.shape.join(', ')}] needs ${need}, past the ${limit}`;
}

/** Every tensor of the pass at H x W past the active GPU backend's limits (none off the GPU). */
export function gpuLimitProblems(tensorsAt: PassTensors, H: number, W: number): LimitProblem[] {
  const limits = activeGpuLimits();
  return limits ? tensorsPastLimits(tensorsAt(H, W, limits.backend), limits) : [];
}

/** Input sizes below H x W, largest first: multiples of the patch size, about the same aspect ratio. */
export function* smallerSizes(patch: number, H: number, W: number): Generator<[number, number]> {
  const p = patch;
  for (let k = Math.max(H, W) / p - 1; k >= 1; k--) {
    yield [H >= W ? k * p : Math.max(p, Math.round((k * H) / W) * p), H >= W ? Math.max(p, Math.round((k * W) / H) * p) : k * p];
  }
}

/** The first of `sizes` whose pass fits the active GPU backend's limits. */
export function largestFitting(tensorsAt: PassTensors, sizes: Iterable<[number, number]>): [number, number] | undefined {
  for (const [h, w] of sizes) if (gpuLimitProblems(tensorsAt, h, w).length === 0) return [h, w];
  return undefined;
}

/**
 * Throws one line when the pass at H x W would exceed the active GPU backend's limits: the tensor,
 * the limit, and the largest of `sizes` that fits. No-op on cpu/wasm/tensorflow.
 */
export function checkGpuPass(tensorsAt: PassTensors, H: number, W: number, sizes: Iterable<[number, number]>, batch = 1): void {
  const problems = gpuLimitProblems(tensorsAt, H, W);
  if (problems.length === 0) return;
  const fits = largestFitting(tensorsAt, sizes);
  const hint = fits ? `; ${fits[0]}x${fits[1]} fits` : '';
  const more = batch > 1 ? ', or a smaller batch' : '';
  throw new Error(`input ${H}x${W}${batch > 1 ? ` x${batch}` : ''} exceeds a ${tf.getBackend()} limit: ${describeWorst(problems)}${hint}${more} (or use --backend wasm)`);
}

/**
 * Tensors that are not on a GPU still cost memory: on wasm every tensor lives in one 4 GiB heap
 * (src/backends/wasm_memory.ts). Passes that can be split (the DPT head's full-resolution stage)
 * keep each part under this on cpu/wasm/tensorflow.
 */
const HOST_TENSOR_BUDGET = 512 * 2 ** 20;

/** A smaller budget forced on every backend (tests and measurements of the banded paths); undefined: the backend's own. */
let forcedBudget: number | undefined;
export function setBandBudgetForTesting(bytes: number | undefined): void {
  forcedBudget = bytes;
}

/** The size one split part's tensors may reach off the GPU (cpu, wasm, tensorflow): the forced budget, or 512 MiB. */
export function hostTensorBudget(): number {
  return forcedBudget ?? HOST_TENSOR_BUDGET;
}

/** Whether every tensor of `list` fits the active backend: its GPU limits, or the host budget. */
function fitsActive(list: PassTensor[]): boolean {
  if (forcedBudget !== undefined) return list.every((t) => 4 * elements(t.shape) <= forcedBudget!);
  const limits = activeGpuLimits();
  if (limits) return tensorsPastLimits(list, limits).length === 0;
  return list.every((t) => 4 * elements(t.shape) <= HOST_TENSOR_BUDGET);
}

/**
 * How many rows of a `total`-row stage to compute at once so that every tensor `tensorsFor(rows)`
 * lists fits the active backend (all `total` when they do; at least 1).
 */
export function bandRows(tensorsFor: (rows: number) => PassTensor[], total: number): number {
  if (fitsActive(tensorsFor(total))) return total;
  let lo = 1;
  let hi = total - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fitsActive(tensorsFor(mid))) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
