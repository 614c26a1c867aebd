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
 * The largest tensors of a pass are known from the configuration alone, so the check names the
 * tensor, the limit and the largest input size (same aspect ratio) that fits.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig } from '../config/depth';
import { attentionLayout } from '../dinov2/attention';
import { swigluHidden } from '../dinov2/swiglu_ffn';

export interface PassTensor {
  name: string;
  shape: number[];
  /** Laid out packed (2x2 values per texel) on webgl. */
  packed?: boolean;
}

export const elements = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** What a pass runs: the whole model, or the encoder alone (`encode`). */
export type PassPart = 'model' | 'encoder';

/** The largest tensors one forward pass at H x W creates on `backend`, by module (the encoder's alone for `encoder`). */
export function largestPassTensors(cfg: ModelConfig, H: number, W: number, batch: number, backend: string, part: PassPart = 'model'): PassTensor[] {
  const B = batch;
  const ph = H / cfg.patchSize;
  const pw = W / cfg.patchSize;
  const N = 1 + ph * pw;
  const C = cfg.embedDim;
  const heads = cfg.numHeads;
  const F = cfg.features;
  const hidden = cfg.ffn === 'swiglu' ? 2 * swigluHidden(C) : 4 * C;
  const list: PassTensor[] = [
    { name: 'pretrained.blocks.*.attn.qkv', shape: [B, N, 3 * C] },
    attentionLayout(backend) === 'fused'
      ? { name: 'attention scores (all heads)', shape: [B, heads, N, N] }
      : { name: 'attention scores (one head)', shape: [N, N] },
    { name: 'pretrained.blocks.*.mlp hidden', shape: [B, N, hidden] },
    { name: 'depth_head.resize_layers.0', shape: [B, 4 * ph, 4 * pw, cfg.outChannels[0]] },
    { name: 'depth_head.scratch.refinenet1', shape: [B, 8 * ph, 8 * pw, F] },
    { name: 'depth_head.scratch.output_conv1 (upsampled)', shape: [B, H, W, F / 2] },
    { name: 'depth_head.scratch.output_conv2.0', shape: [B, H, W, 32] },
  ];
  if (backend === 'webgl' && tf.env().getBool('WEBGL_CONV_IM2COL')) {
    // conv2d's im2col matrix [B, k*k*Cin, outH*outW] for the head's 3x3 convolutions.
    list.push({ name: 'depth_head.scratch.refinenet1 3x3 conv (im2col)', shape: [B, 9 * F, 8 * ph * 8 * pw], packed: true });
    list.push({ name: 'depth_head.scratch.output_conv2.0 (im2col)', shape: [B, 9 * (F / 2), H * W], packed: true });
  }
  return part === 'encoder' ? list.filter((t) => !t.name.startsWith('depth_head.')) : list;
}

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

/** Every tensor of a pass at H x W that exceeds the active GPU backend's limits. */
export function limitProblems(cfg: ModelConfig, H: number, W: number, batch: number, part: PassPart = 'model'): LimitProblem[] {
  const limits = activeGpuLimits();
  return limits ? tensorsPastLimits(largestPassTensors(cfg, H, W, batch, limits.backend, part), limits) : [];
}

/** The largest H x W (multiples of the patch size, about the same aspect ratio, at most H x W) that fits. */
export function largestFittingSize(cfg: ModelConfig, H: number, W: number, batch: number, part: PassPart = 'model'): [number, number] | undefined {
  for (const [h, w] of smallerSizes(cfg, H, W)) if (limitProblems(cfg, h, w, batch, part).length === 0) return [h, w];
  return undefined;
}

/** Input sizes below H x W, largest first: multiples of the patch size, about the same aspect ratio. */
export function* smallerSizes(cfg: ModelConfig, H: number, W: number): Generator<[number, number]> {
  const p = cfg.patchSize;
  for (let k = Math.max(H, W) / p - 1; k >= 1; k--) {
    yield [H >= W ? k * p : Math.max(p, Math.round((k * H) / W) * p), H >= W ? Math.max(p, Math.round((k * W) / H) * p) : k * p];
  }
}

/**
 * Throws one line when a pass at H x W would exceed the active GPU backend's limits: the tensor,
 * the limit, and the largest input size that fits. No-op on cpu/wasm/tensorflow.
 */
export function checkGpuLimits(cfg: ModelConfig, H: number, W: number, batch = 1, part: PassPart = 'model'): void {
  const problems = limitProblems(cfg, H, W, batch, part);
  if (problems.length === 0) return;
  const fits = largestFittingSize(cfg, H, W, batch, part);
  const hint = fits ? `; ${fits[0]}x${fits[1]} fits` : '';
  const more = batch > 1 ? ', or a smaller batch' : '';
  throw new Error(`input ${H}x${W}${batch > 1 ? ` x${batch}` : ''} exceeds a ${tf.getBackend()} limit: ${describeWorst(problems)}${hint}${more} (or use --backend wasm)`);
}
