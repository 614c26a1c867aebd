/**
 * The official `image2tensor`: RGB / 255, cubic resize keeping the aspect ratio so both sides are
 * at least `inputSize` (each a multiple of 14), ImageNet mean/std; computed in float64 and handed
 * to the network as float32.
 */
import * as tf from '@tensorflow/tfjs-core';
import { RgbImage, validateRgb } from './rgb';
import { resizeCubic } from './resize_cubic';

export interface PreprocessConfig {
  /** Lower bound for both sides of the network input; a multiple of `multipleOf`. Official: 518. */
  inputSize: number;
  /** The patch size: both sides are rounded to a multiple of it. */
  multipleOf: number;
  mean: [number, number, number];
  std: [number, number, number];
  /**
   * `rgb / 255` in float64 (Depth Anything's image2tensor, the default) or float32 (Video Depth
   * Anything's `frame.astype(np.float32) / 255.0`).
   */
  scale?: 'float64' | 'float32';
}

export const DEFAULT_PREPROCESS: Readonly<PreprocessConfig> = {
  inputSize: 518,
  multipleOf: 14,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
};

/**
 * Largest network input accepted, in patches (a 1792x1792 input): attention cost grows with the
 * square of this, and an extreme aspect ratio (a 1-pixel-high strip) would otherwise ask for a
 * network input of millions of pixels.
 */
export const MAX_PATCHES = 128 * 128;

export class PreprocessError extends Error {
  constructor(message: string) { super(message); this.name = 'PreprocessError'; }
}

/** The network input of one image, NHWC float32, with the size of the image it came from. */
export interface NetworkInput {
  /** [height, width, 3] interleaved, normalised. */
  data: Float32Array;
  width: number;
  height: number;
  /** The source image's size (the size depth is resized back to). */
  srcWidth: number;
  srcHeight: number;
}

/** numpy's `np.round`: halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function checkInputSize(inputSize: number, multipleOf = DEFAULT_PREPROCESS.multipleOf): number {
  if (!(Number.isInteger(inputSize) && inputSize >= multipleOf && inputSize % multipleOf === 0)) {
    throw new PreprocessError(`input size must be a positive multiple of ${multipleOf} (e.g. 518), got ${inputSize}`);
  }
  return inputSize;
}

/**
 * Network input size for an image (the official `Resize.get_size` with keep_aspect_ratio,
 * lower_bound, ensure_multiple_of): scale so the tighter side reaches `inputSize`, then round
 * each side to a multiple of 14, going up where rounding fell below the bound.
 */
export function targetSize(width: number, height: number, inputSize: number, multipleOf = DEFAULT_PREPROCESS.multipleOf): { width: number; height: number } {
  checkInputSize(inputSize, multipleOf);
  let sh = inputSize / height;
  let sw = inputSize / width;
  if (sw > sh) sh = sw;
  else sw = sh;
  const constrain = (x: number): number => {
    let y = roundHalfEven(x / multipleOf) * multipleOf;
    if (y < inputSize) y = Math.ceil(x / multipleOf) * multipleOf;
    return y;
  };
  return { width: constrain(sw * width), height: constrain(sh * height) };
}

/** Runs the official preprocessing on decoded pixels (pure JS, float64 inside). */
export function preprocess(img: RgbImage, cfg: Partial<PreprocessConfig> = {}): NetworkInput {
  const c: PreprocessConfig = { ...DEFAULT_PREPROCESS, ...cfg };
  validateRgb(img);
  const { width, height } = targetSize(img.width, img.height, c.inputSize, c.multipleOf);
  const patches = (width / c.multipleOf) * (height / c.multipleOf);
  if (patches > MAX_PATCHES) {
    throw new PreprocessError(
      `a ${img.width}x${img.height} image at input size ${c.inputSize} needs a ${width}x${height} network input `
      + `(${patches} patches), above the limit of ${MAX_PATCHES}; crop the image or use a smaller input size`,
    );
  }
  const lut = new Float64Array(256);
  for (let v = 0; v < 256; v++) lut[v] = c.scale === 'float32' ? Math.fround(v / 255) : v / 255;
  const resized = resizeCubic(img.data, lut, img.width, img.height, 3, width, height);
  // cv2.resize of a float32 image returns float32 (its own float32 sums are within 1e-7 of ours).
  if (c.scale === 'float32') for (let i = 0; i < resized.length; i++) resized[i] = Math.fround(resized[i]);
  const data = new Float32Array(resized.length);
  const [m0, m1, m2] = c.mean;
  const [s0, s1, s2] = c.std;
  for (let i = 0; i < resized.length; i += 3) {
    data[i] = (resized[i] - m0) / s0;
    data[i + 1] = (resized[i + 1] - m1) / s1;
    data[i + 2] = (resized[i + 2] - m2) / s2;
  }
  return { data, width, height, srcWidth: img.width, srcHeight: img.height };
}

/** The network input as a tensor [1, H, W, 3] (the caller owns it). */
export function toInputTensor(input: NetworkInput): tf.Tensor4D {
  return tf.tensor4d(input.data, [1, input.height, input.width, 3], 'float32');
}

/** The network input in PyTorch's layout [1, 3, H, W], as the official `image2tensor` returns it. */
export function toNchw(input: NetworkInput): Float32Array {
  const hw = input.width * input.height;
  const out = new Float32Array(hw * 3);
  for (let p = 0; p < hw; p++) {
    out[p] = input.data[p * 3];
    out[hw + p] = input.data[p * 3 + 1];
    out[2 * hw + p] = input.data[p * 3 + 2];
  }
  return out;
}
