/**
 * Depth Anything 3 preprocessing: the official `InputProcessor` (depth_anything_3/utils/io/
 * input_processor.py, commit 2c21ea8) on decoded RGB views, bit for bit.
 *
 *   da3Preprocess(images: RgbImage[], { processRes, processResMethod }, cameras?) -> Da3Preprocessed
 *
 * Per view: boundary resize (`upper_bound_*`: longest side -> processRes, `lower_bound_*`:
 * shortest side; `new = max(1, round(side * scale))` with Python's round, halves to even;
 * OpenCV INTER_CUBIC if scale > 1 else INTER_AREA on the uint8 pixels; skipped when that side
 * already equals processRes), then divisibility by 14 (`*_resize`: each side to the nearest
 * multiple, ties up, INTER_CUBIC if either side grows else INTER_AREA; `*_crop`: floor to a
 * multiple by a centre crop). Views of different sizes are then centre-cropped to the smallest
 * height and width. Last, ToTensor (/255) and ImageNet mean/std, in float32 as torch computes them.
 * Intrinsics follow every step (rows 0 and 1 scaled by the resize ratios, crops shift cx, cy);
 * extrinsics pass through. Pure and platform-free (no tfjs, no Node).
 */
import { RgbImage, validateRgb } from '../rgb';
import { resizeAreaU8 } from '../resize_area';
import { resizeCubicU8 } from '../resize_cubic';
import { Da3InputError } from './errors';

export const DA3_PATCH_SIZE = 14;
export const DA3_MEAN = [0.485, 0.456, 0.406] as const;
export const DA3_STD = [0.229, 0.224, 0.225] as const;
export const DA3_PROCESS_RES_METHODS = ['upper_bound_resize', 'upper_bound_crop', 'lower_bound_resize', 'lower_bound_crop'] as const;
export type Da3ProcessResMethod = (typeof DA3_PROCESS_RES_METHODS)[number];

/** Official defaults of `DepthAnything3.inference`. */
export const DA3_DEFAULT_PROCESS_RES = 504;
export const DA3_DEFAULT_PROCESS_RES_METHOD: Da3ProcessResMethod = 'upper_bound_resize';

export interface Da3PreprocessOptions {
  /** `process_res`: the target of the bounded side, in pixels (official default 504). */
  processRes: number;
  /** `process_res_method` (official default `upper_bound_resize`). */
  processResMethod: Da3ProcessResMethod;
}

/**
 * A 3-D array of `n` matrices of `rows` x `cols`, row-major: nested arrays (`[N][R][C]`) or a flat
 * array of `N * R * C` numbers.
 */
export type MatrixStack = ArrayLike<number> | ArrayLike<ArrayLike<ArrayLike<number>>>;

export interface Da3CameraInput {
  /** World-to-camera (OpenCV axes) `[N, 4, 4]` (or `[N, 3, 4]`, padded with `0 0 0 1`). */
  extrinsics: MatrixStack;
  /** Pinhole K `[N, 3, 3]` in pixels of the images as given. */
  intrinsics: MatrixStack;
}

export interface Da3Preprocessed {
  /** The network input `[N, 3, H, W]` float32 (`input[0]` of the fixtures), normalised. */
  input: Float32Array;
  views: number;
  height: number;
  width: number;
  /** Known cameras only: the extrinsics as given, `[N, 4, 4]` float32 (`preprocess.1`). */
  extrinsics: Float32Array | null;
  /** Known cameras only: K at the processed size, `[N, 3, 3]` float32 (`preprocess.2`). */
  intrinsics: Float32Array | null;
}

/** Python's `round()` on a float: halves to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Reads `[N, rows, cols]` from nested or flat input, with a clear error naming `what`. */
export function readMatrixStack(v: MatrixStack, n: number, rows: number, cols: number, what: string): Float64Array {
  const out = new Float64Array(n * rows * cols);
  const first = (v as ArrayLike<unknown>)[0];
  if (typeof first === 'number' || (v as ArrayLike<unknown>).length === 0) {
    const flat = v as ArrayLike<number>;
    if (flat.length !== n * rows * cols) {
      throw new Da3InputError(`${what}: ${flat.length} numbers for ${n} view(s); ${n} x ${rows} x ${cols} = ${n * rows * cols} expected`);
    }
    for (let i = 0; i < out.length; i++) out[i] = Number(flat[i]);
  } else {
    const nested = v as ArrayLike<ArrayLike<ArrayLike<number>>>;
    if (nested.length !== n) throw new Da3InputError(`${what}: ${nested.length} matrices for ${n} view(s); one ${rows}x${cols} matrix per view expected`);
    for (let i = 0; i < n; i++) {
      const m = nested[i];
      if (!m || m.length !== rows || Array.from(m).some((r) => !r || r.length !== cols)) {
        throw new Da3InputError(`${what}[${i}] is not ${rows}x${cols}`);
      }
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[(i * rows + r) * cols + c] = Number(m[r][c]);
    }
  }
  if (out.some((x) => !Number.isFinite(x))) throw new Da3InputError(`${what}: contains a value that is not a finite number`);
  return out;
}

/** The shape of a camera array: `[N, R, C]` of nested input, or null for a flat one. */
function nestedShape(v: MatrixStack): [number, number, number] | null {
  const first = (v as ArrayLike<unknown>)[0];
  if (typeof first === 'number' || first === undefined) return null;
  const m = first as ArrayLike<ArrayLike<number>>;
  return [(v as ArrayLike<unknown>).length, m.length, m[0]?.length ?? 0];
}

/** Extrinsics `[N, 4, 4]` (float64) from `[N, 4, 4]` or `[N, 3, 4]` input. */
function readExtrinsics(v: MatrixStack, n: number): Float64Array {
  const shape = nestedShape(v);
  const rows = shape ? shape[1] : (v as ArrayLike<number>).length === n * 12 ? 3 : 4;
  if (shape && !((shape[1] === 4 || shape[1] === 3) && shape[2] === 4)) {
    throw new Da3InputError(`extrinsics: each matrix is ${shape[1]}x${shape[2]}; world-to-camera 4x4 (or 3x4) matrices expected`);
  }
  const m = readMatrixStack(v, n, rows, 4, 'extrinsics');
  if (rows === 4) return m;
  const out = new Float64Array(n * 16);
  for (let i = 0; i < n; i++) {
    out.set(m.subarray(i * 12, i * 12 + 12), i * 16);
    out[i * 16 + 15] = 1;
  }
  return out;
}

function checkOptions(opts: Da3PreprocessOptions): void {
  if (!(Number.isInteger(opts.processRes) && opts.processRes >= DA3_PATCH_SIZE)) {
    throw new Da3InputError(`processRes must be an integer >= ${DA3_PATCH_SIZE} (official default ${DA3_DEFAULT_PROCESS_RES}), got ${opts.processRes}`);
  }
  if (!(DA3_PROCESS_RES_METHODS as readonly string[]).includes(opts.processResMethod)) {
    throw new Da3InputError(`processResMethod must be one of ${DA3_PROCESS_RES_METHODS.join(', ')}; got ${String(opts.processResMethod)}`);
  }
}

/** `cv2.resize` as InputProcessor calls it: cubic when enlarging, area otherwise. */
function cvResize(img: RgbImage, w: number, h: number, cubic: boolean): RgbImage {
  const data = cubic ? resizeCubicU8(img.data, img.width, img.height, 3, w, h) : resizeAreaU8(img.data, img.width, img.height, 3, w, h);
  return { data, width: w, height: h };
}

/** A `[top, left]` crop of `h` x `w` from an RGB image. */
function crop(img: RgbImage, left: number, top: number, w: number, h: number): RgbImage {
  if (left === 0 && top === 0 && w === img.width && h === img.height) return img;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) data.set(img.data.subarray(((top + y) * img.width + left) * 3, ((top + y) * img.width + left + w) * 3), y * w * 3);
  return { data, width: w, height: h };
}

/** `_resize_ixt`: fx, skew, cx (row 0) by w / orig_w; fy, cy (row 1) by h / orig_h. */
function resizeK(k: Float64Array | null, ow: number, oh: number, w: number, h: number): void {
  if (!k) return;
  const sx = w / ow, sy = h / oh;
  for (let c = 0; c < 3; c++) { k[c] *= sx; k[3 + c] *= sy; }
}

/** One view through `_process_one`: boundary resize, then divisibility by 14. */
export function da3ProcessOne(img: RgbImage, opts: Da3PreprocessOptions, k: Float64Array | null = null): RgbImage {
  const { processRes: target, processResMethod: method } = opts;
  // Boundary resize (_resize_longest_side / _resize_shortest_side).
  let { width: w, height: h } = img;
  const side = method.startsWith('upper') ? Math.max(w, h) : Math.min(w, h);
  if (side !== target) {
    const scale = target / side;
    const nw = Math.max(1, roundHalfEven(w * scale));
    const nh = Math.max(1, roundHalfEven(h * scale));
    img = cvResize(img, nw, nh, scale > 1);
    resizeK(k, w, h, nw, nh);
    w = nw; h = nh;
  }
  if (method.endsWith('resize')) {
    // _make_divisible_by_resize: nearest multiple, ties up.
    const nearest = (x: number): number => {
      const down = Math.floor(x / DA3_PATCH_SIZE) * DA3_PATCH_SIZE;
      const up = down + DA3_PATCH_SIZE;
      return Math.abs(up - x) <= Math.abs(x - down) ? up : down;
    };
    const nw = Math.max(1, nearest(w)), nh = Math.max(1, nearest(h));
    if (nw !== w || nh !== h) {
      img = cvResize(img, nw, nh, nw > w || nh > h);
      resizeK(k, w, h, nw, nh);
    }
  } else {
    // _make_divisible_by_crop: floor by a centre crop; _crop_ixt shifts the principal point.
    const nw = Math.floor(w / DA3_PATCH_SIZE) * DA3_PATCH_SIZE, nh = Math.floor(h / DA3_PATCH_SIZE) * DA3_PATCH_SIZE;
    if (nw === 0 || nh === 0) {
      throw new Da3InputError(`a view of ${w}x${h} after the boundary resize is smaller than one ${DA3_PATCH_SIZE}-pixel patch; raise processRes or use a *_resize method`);
    }
    const left = Math.floor((w - nw) / 2), top = Math.floor((h - nh) / 2);
    img = crop(img, left, top, nw, nh);
    if (k) { k[2] -= left; k[5] -= top; }
  }
  return img;
}

/**
 * The official preprocessing of `images` (views of one scene). `cameras`, when given, must hold
 * one world-to-camera extrinsic and one intrinsic matrix per view (the official API ignores
 * intrinsics without extrinsics and fails on extrinsics without intrinsics; both are refused).
 */
export function da3Preprocess(images: readonly RgbImage[], opts: Da3PreprocessOptions, cameras?: Partial<Da3CameraInput>): Da3Preprocessed {
  checkOptions(opts);
  const n = images.length;
  if (n === 0) throw new Da3InputError('no views: Depth Anything 3 needs at least one image');
  images.forEach((img, i) => validateRgb(img, `view ${i}`));
  let ext: Float64Array | null = null;
  let ks: Float64Array | null = null;
  if (cameras && (cameras.extrinsics !== undefined || cameras.intrinsics !== undefined)) {
    if (cameras.extrinsics === undefined || cameras.intrinsics === undefined) {
      throw new Da3InputError(`known cameras need both extrinsics and intrinsics (one of each per view); only ${cameras.extrinsics === undefined ? 'intrinsics' : 'extrinsics'} given`);
    }
    ext = readExtrinsics(cameras.extrinsics, n);
    const kShape = nestedShape(cameras.intrinsics);
    if (kShape && !(kShape[1] === 3 && kShape[2] === 3)) throw new Da3InputError(`intrinsics: each matrix is ${kShape[1]}x${kShape[2]}; 3x3 pinhole matrices expected`);
    ks = readMatrixStack(cameras.intrinsics, n, 3, 3, 'intrinsics');
  }
  const views = images.map((img, i) => da3ProcessOne(img, opts, ks ? ks.subarray(i * 9, i * 9 + 9) : null));
  // _unify_batch_shapes: torchvision CenterCrop to the smallest (h, w). The sizes are multiples
  // of 14, so CenterCrop's round((H - h) / 2) equals the (H - h) // 2 used for cx, cy.
  const height = Math.min(...views.map((v) => v.height));
  const width = Math.min(...views.map((v) => v.width));
  if (height % DA3_PATCH_SIZE !== 0 || width % DA3_PATCH_SIZE !== 0) {
    throw new Da3InputError(`the views come out ${width}x${height} at processRes ${opts.processRes}, not a multiple of ${DA3_PATCH_SIZE}: an image side is too small; raise processRes`);
  }
  const hw = height * width;
  const input = new Float32Array(n * 3 * hw);
  const f = Math.fround;
  const mean = DA3_MEAN.map(f), std = DA3_STD.map(f);
  views.forEach((v, i) => {
    const top = Math.floor((v.height - height) / 2), left = Math.floor((v.width - width) / 2);
    if (ks) { ks[i * 9 + 2] -= left; ks[i * 9 + 5] -= top; }
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const s = ((y + top) * v.width + x + left) * 3;
        for (let c = 0; c < 3; c++) {
          // ToTensor: float32 v / 255; Normalize: (x - mean) / std, each op in float32.
          input[(i * 3 + c) * hw + y * width + x] = f(f(f(v.data[s + c] / 255) - mean[c]) / std[c]);
        }
      }
    }
  });
  return {
    input, views: n, height, width,
    extrinsics: ext ? Float32Array.from(ext) : null,
    intrinsics: ks ? Float32Array.from(ks) : null,
  };
}
