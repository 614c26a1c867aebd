/**
 * 8-bit weights (`convert --dtype q8`): Linear and Conv kernels stored as int8, symmetric, one
 * float32 scale per output channel, beside them as `<key>_scale`; everything else (norms, biases,
 * position embeddings, tokens) stays float. Loading dequantises (q * scale), so the compute path
 * and every kernel are the ones float32 weights use: only the file is smaller.
 *
 * The scale is stored in a shape that broadcasts against its kernel ([C_out, 1] for Linear,
 * [C_out, 1, 1, 1] for Conv2d, [1, C_out, 1, 1] for ConvTranspose2d, whose PyTorch weight is
 * [C_in, C_out, kH, kW]), so the reader needs no knowledge of the module the kernel belongs to.
 */
import type { RawTensor, StateDict } from './state_dict';
import { WeightsError } from './state_dict';

/** `__metadata__.quantization` of a q8 file. */
export const Q8_METADATA = 'int8-symmetric-per-output-channel';
export const Q8_SCALE_SUFFIX = '_scale';

/** Kernels smaller than this stay float (a few KB gain nothing and the patch of a tiny model). */
const MIN_ELEMENTS = 1024;

/**
 * ConvTranspose2d kernels of the official module trees: their output channel is axis 1. DPT's
 * `resize_layers.0/1` (V1, V2, VDA, DA3) are the only transposed convolutions the models hold.
 */
const TRANSPOSED_CONV = /(^|\.)resize_layers\.[01]\.weight$/;

/** Parameters named `weight` that are lookup tables, not kernels (nn.Embedding, tokens). */
const NOT_A_KERNEL = /(^|\.)(pos_embed|cls_token|mask_token|register_tokens|camera_token|\w*_embed|query_feat|level_embed)(\.weight)?$/;

/** The output-channel axis when `key` is a Linear/Conv kernel that q8 stores as int8, else undefined. */
export function q8Axis(key: string, shape: readonly number[]): number | undefined {
  if (!key.endsWith('.weight') || shape.length < 2 || NOT_A_KERNEL.test(key)) return undefined;
  if (shape.reduce((a, b) => a * b, 1) < MIN_ELEMENTS) return undefined;
  return TRANSPOSED_CONV.test(key) && shape.length === 4 ? 1 : 0;
}

export interface Q8Tensor {
  /** Rounded to nearest (ties away from zero), in [-127, 127]: symmetric, so -128 is never used. */
  q: Int8Array;
  /** float32 scales in the broadcast shape (see the module comment). */
  scale: Float32Array;
  scaleShape: number[];
}

/** Strides of a row-major shape. */
function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

/** Symmetric per-channel quantisation along `axis`: scale = max|w| / 127 per channel (1 for an all-zero channel). */
export function quantizeQ8(t: RawTensor, axis: number): Q8Tensor {
  const C = t.shape[axis];
  const st = strides(t.shape);
  const inner = st[axis];
  const outer = t.data.length / (C * inner);
  const channelOf = (i: number) => Math.floor(i / inner) % C;
  const maxAbs = new Float64Array(C);
  for (let i = 0; i < t.data.length; i++) {
    const v = Math.abs(t.data[i]);
    if (!Number.isFinite(v)) throw new WeightsError(`q8: a weight of ${t.shape.join('x')} kernel is ${t.data[i]}; cannot quantise non-finite weights`);
    const c = channelOf(i);
    if (v > maxAbs[c]) maxAbs[c] = v;
  }
  const scale = new Float32Array(C);
  for (let c = 0; c < C; c++) scale[c] = maxAbs[c] > 0 ? maxAbs[c] / 127 : 1;
  const q = new Int8Array(t.data.length);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < C; c++) {
      const s = scale[c];
      const base = (o * C + c) * inner;
      for (let j = 0; j < inner; j++) {
        const r = Math.round(Math.abs(t.data[base + j]) / s);
        q[base + j] = Math.sign(t.data[base + j]) * Math.min(127, r);
      }
    }
  }
  const scaleShape = t.shape.map((d, i) => (i === axis ? d : 1));
  return { q, scale, scaleShape };
}

/** q * scale, broadcasting the scale (its one non-1 axis, or a scalar) over the kernel. */
export function dequantizeQ8(q: Int8Array, shape: readonly number[], scale: Float32Array, scaleShape: readonly number[], where: string): Float32Array {
  if (scaleShape.length !== shape.length || scaleShape.some((d, i) => d !== 1 && d !== shape[i])) {
    throw new WeightsError(`${where}: scale of shape [${scaleShape.join(', ')}] does not broadcast against the int8 kernel [${shape.join(', ')}]`);
  }
  const axes = scaleShape.flatMap((d, i) => (d !== 1 ? [i] : []));
  if (axes.length > 1) throw new WeightsError(`${where}: scale of shape [${scaleShape.join(', ')}] has more than one channel axis`);
  const out = new Float32Array(q.length);
  if (axes.length === 0) {
    for (let i = 0; i < q.length; i++) out[i] = q[i] * scale[0];
    return out;
  }
  const axis = axes[0];
  const C = shape[axis];
  const inner = strides(shape)[axis];
  for (let i = 0; i < q.length; i++) out[i] = q[i] * scale[Math.floor(i / inner) % C];
  return out;
}

/** What the writer stores for one state-dict entry: the float tensor, or int8 + its scale. */
export type StoredTensor =
  | { name: string; shape: number[]; kind: 'float'; data: Float32Array }
  | { name: string; shape: number[]; kind: 'int8'; data: Int8Array }
  | { name: string; shape: number[]; kind: 'scale'; data: Float32Array };

/** A state dict as q8 stores it, in order: each quantised kernel followed by its scale. */
export function q8Entries(sd: StateDict): StoredTensor[] {
  const out: StoredTensor[] = [];
  for (const [name, t] of sd) {
    if (sd.has(name + Q8_SCALE_SUFFIX)) throw new WeightsError(`q8: the state dict already has a key ${name + Q8_SCALE_SUFFIX}; cannot store the scale of ${name} under it`);
    const axis = q8Axis(name, t.shape);
    if (axis === undefined) {
      out.push({ name, shape: t.shape, kind: 'float', data: t.data });
      continue;
    }
    const { q, scale, scaleShape } = quantizeQ8(t, axis);
    out.push({ name, shape: t.shape, kind: 'int8', data: q });
    out.push({ name: name + Q8_SCALE_SUFFIX, shape: scaleShape, kind: 'scale', data: scale });
  }
  return out;
}
