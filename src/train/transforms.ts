/**
 * The training data pipeline as pure functions with explicit parameters (the random choices are
 * arguments: sampled by src/train/sampling.ts in normal use, replayed from a fixture's record in
 * tests). Images are interleaved HWC, row-major, as everywhere in this library.
 *
 * Metric (Depth-Anything-V2 metric_depth/dataset/vkitti2.py + transform.py): RGB / 255 in float64,
 * Resize (lower bound, keep aspect, multiple of 14; INTER_CUBIC image, INTER_NEAREST depth),
 * NormalizeImage in float64, float32, Crop at (h_start, w_start), valid_mask = depth <= 80, then
 * train.py's horizontal flip of the whole batch.
 */
import { RgbImage } from '../pipeline/rgb';
import { resizeCubic } from '../pipeline/resize_cubic';
import { DEFAULT_PREPROCESS, targetSize } from '../pipeline/preprocess';

export interface DepthMap {
  data: Float32Array;
  width: number;
  height: number;
}

/** An image (HWC) with its size and channel count. */
export interface Planar<T extends Float32Array | Float64Array | Uint8Array = Float32Array> {
  data: T;
  width: number;
  height: number;
  channels: number;
}

export class TrainDataError extends Error {
  constructor(message: string) { super(message); this.name = 'TrainDataError'; }
}

/** RGB / 255, resized as the official Resize (lower bound at `size`, keep aspect, multiple of 14), float64. */
export function resizeImage(img: RgbImage, size: number, multipleOf = DEFAULT_PREPROCESS.multipleOf): Planar<Float64Array> {
  const { width, height } = targetSize(img.width, img.height, size, multipleOf);
  const lut = new Float64Array(256);
  for (let v = 0; v < 256; v++) lut[v] = v / 255;
  return { data: resizeCubic(img.data, lut, img.width, img.height, 3, width, height), width, height, channels: 3 };
}

/**
 * cv2.resize(INTER_NEAREST): source index floor(x * (1 / (dst / src))) in double precision, as
 * OpenCV computes it (not x * src / dst, which rounds differently at exact multiples).
 */
export function resizeNearest(d: DepthMap, width: number, height: number): DepthMap {
  const ifx = 1 / (width / d.width);
  const ify = 1 / (height / d.height);
  const out = new Float32Array(width * height);
  const xs = Int32Array.from({ length: width }, (_, x) => Math.min(Math.floor(x * ifx), d.width - 1));
  for (let y = 0; y < height; y++) {
    const sy = Math.min(Math.floor(y * ify), d.height - 1);
    for (let x = 0; x < width; x++) out[y * width + x] = d.data[sy * d.width + xs[x]];
  }
  return { data: out, width, height };
}

/** (x - mean) / std per channel in float64, stored as float32 (NormalizeImage + PrepareForNet). */
export function normalize(img: Planar<Float64Array | Float32Array>, mean = DEFAULT_PREPROCESS.mean, std = DEFAULT_PREPROCESS.std): Planar {
  const out = new Float32Array(img.data.length);
  for (let i = 0; i < out.length; i++) out[i] = (img.data[i] - mean[i % 3]) / std[i % 3];
  return { ...img, data: out };
}

/** The same in float32 arithmetic (torchvision's normalize on a float32 tensor). */
export function normalizeF32(img: Planar): Planar {
  const f = Math.fround;
  const mean = DEFAULT_PREPROCESS.mean.map(f);
  const std = DEFAULT_PREPROCESS.std.map(f);
  const out = new Float32Array(img.data.length);
  for (let i = 0; i < out.length; i++) out[i] = f(f(img.data[i] - mean[i % 3]) / std[i % 3]);
  return { ...img, data: out };
}

/** Crop(size) at (top, left) = (h_start, w_start). */
export function crop<T extends Float32Array | Float64Array | Uint8Array>(img: Planar<T>, top: number, left: number, size: number): Planar<T> {
  const { width, height, channels: C } = img;
  if (!(top >= 0 && left >= 0 && top + size <= height && left + size <= width)) {
    throw new TrainDataError(`crop ${size}x${size} at (${top}, ${left}) does not fit a ${width}x${height} image`);
  }
  const out = new (img.data.constructor as { new (n: number): T })(size * size * C);
  for (let y = 0; y < size; y++) {
    const src = ((top + y) * width + left) * C;
    out.set(img.data.subarray(src, src + size * C) as never, y * size * C);
  }
  return { data: out, width: size, height: size, channels: C };
}

/** Flip on the last axis (x). */
export function flipHorizontal<T extends Float32Array | Float64Array | Uint8Array>(img: Planar<T>): Planar<T> {
  const { width, height, channels: C } = img;
  const out = new (img.data.constructor as { new (n: number): T })(img.data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * C;
      const d = (y * width + (width - 1 - x)) * C;
      for (let c = 0; c < C; c++) out[d + c] = img.data[s + c];
    }
  }
  return { ...img, data: out };
}

export const asPlanar = (d: DepthMap): Planar => ({ data: d.data, width: d.width, height: d.height, channels: 1 });

/** Checks that an image and its depth map have the same size (the official pipeline asserts nothing; a mismatch would misalign every target). */
export function checkSameSize(img: { width: number; height: number }, depth: { width: number; height: number }, source: string): void {
  if (img.width !== depth.width || img.height !== depth.height) {
    throw new TrainDataError(`${source}: the depth map is ${depth.width}x${depth.height}, the image ${img.width}x${img.height}; they must have the same size`);
  }
}

export interface MetricSample {
  /** Normalised network input, [size, size, 3]. */
  image: Planar;
  /** Metres, [size, size]. */
  depth: Planar;
  /** depth <= validMaxDepth (1 = valid). */
  valid: Uint8Array;
}

/** One VKITTI2 sample: resize, normalise, crop at (top, left), valid_mask; the flip is train.py's, per batch. */
export function metricSample(img: RgbImage, depth: DepthMap, size: number, top: number, left: number, validMaxDepth: number, source = 'sample'): MetricSample {
  checkSameSize(img, depth, source);
  const resized = resizeImage(img, size);
  const d = resizeNearest(depth, resized.width, resized.height);
  const image = crop(normalize(resized), top, left, size);
  const dc = crop(asPlanar(d), top, left, size);
  return { image, depth: dc, valid: validMask(dc.data, validMaxDepth) };
}

export const validMask = (depth: Float32Array, maxValid: number): Uint8Array => Uint8Array.from(depth, (v) => (v <= maxValid ? 1 : 0));

export function flipSample(s: MetricSample): MetricSample {
  const valid = flipHorizontal({ data: s.valid, width: s.depth.width, height: s.depth.height, channels: 1 }).data;
  return { image: flipHorizontal(s.image), depth: flipHorizontal(s.depth), valid };
}
