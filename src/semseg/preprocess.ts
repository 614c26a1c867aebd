/**
 * The official test pipeline's image side: `LoadImageFromFile` (BGR uint8) -> `Resize(scale,
 * keep_ratio=True)` = mmcv `imrescale` (the size from `rescale_size`, pixels by `cv2.resize` with
 * INTER_LINEAR on uint8) -> `PackSegInputs`. cv2's uint8 bilinear resize is fixed point (11-bit
 * coefficients, a vertical pass with its own rounding), so it is reproduced here step by step,
 * bit-exact (checked against the fixtures' recorded resize). An exact 2x downscale is INTER_AREA
 * in cv2, reproduced too. Hand-written: no npm package reproduces cv2's integer arithmetic.
 */
import type { RgbImage } from '../pipeline/rgb';

export class SegPreprocessError extends Error {
  constructor(message: string) { super(message); this.name = 'SegPreprocessError'; }
}

/** mmcv `rescale_size((w, h), (long, short))`: min(long / max(h, w), short / min(h, w)), int(x * s + 0.5). */
export function rescaleSize(width: number, height: number, scale: readonly [number, number]): { width: number; height: number; scaleFactor: number } {
  const maxLong = Math.max(...scale);
  const maxShort = Math.min(...scale);
  const s = Math.min(maxLong / Math.max(height, width), maxShort / Math.min(height, width));
  return { width: Math.trunc(width * s + 0.5), height: Math.trunc(height * s + 0.5), scaleFactor: s };
}

const COEF_BITS = 11;
const COEF_SCALE = 1 << COEF_BITS;

/** cv2 resize's per-axis taps for INTER_LINEAR: source index and fixed-point weights. */
function linearTaps(inSize: number, outSize: number): { ofs: Int32Array; a0: Int16Array; a1: Int16Array } {
  const scale = 1 / (outSize / inSize); // cv::resize: scale_x = 1. / inv_scale_x
  const ofs = new Int32Array(outSize);
  const a0 = new Int16Array(outSize);
  const a1 = new Int16Array(outSize);
  for (let d = 0; d < outSize; d++) {
    let f = Math.fround((d + 0.5) * scale - 0.5);
    let s = Math.floor(f);
    f = Math.fround(f - s);
    if (s < 0) { f = 0; s = 0; }
    if (s >= inSize - 1) { f = 0; s = inSize - 1; }
    ofs[d] = s;
    // saturate_cast<short>(cbuf * INTER_RESIZE_COEF_SCALE): round to nearest, ties to even (cvRound)
    const r = (v: number) => { const x = Math.fround(v * COEF_SCALE); const fl = Math.floor(x); const diff = x - fl; return diff > 0.5 ? fl + 1 : diff < 0.5 ? fl : (fl % 2 === 0 ? fl : fl + 1); };
    a0[d] = r(Math.fround(1 - f));
    a1[d] = r(f);
  }
  return { ofs, a0, a1 };
}

const mulHi = (a: number, b: number) => (a * b) >> 16; // v_mul_hi on int16 lanes
const sat16 = (v: number) => Math.max(-32768, Math.min(32767, v));
const satU8 = (v: number) => Math.max(0, Math.min(255, v));

/** cv2.resize(INTER_LINEAR) of an interleaved uint8 image [h, w, cn] to [outH, outW, cn]. */
export function resizeLinearU8(src: Uint8Array, h: number, w: number, cn: number, outH: number, outW: number): Uint8Array {
  if (outH === h && outW === w) return src.slice();
  if (h === outH * 2 && w === outW * 2) return resizeAreaHalf(src, h, w, cn);
  const xt = linearTaps(w, outW);
  const yt = linearTaps(h, outH);
  const rowW = outW * cn;
  // Horizontal pass: exact integers S[sx] * a0 + S[sx + cn] * a1 (the last column reads itself).
  const hrow = (y: number): Int32Array => {
    const out = new Int32Array(rowW);
    const base = y * w * cn;
    for (let dx = 0; dx < outW; dx++) {
      const sx = xt.ofs[dx];
      const sx1 = Math.min(sx + 1, w - 1);
      for (let k = 0; k < cn; k++) out[dx * cn + k] = src[base + sx * cn + k] * xt.a0[dx] + src[base + sx1 * cn + k] * xt.a1[dx];
    }
    return out;
  };
  const cache = new Map<number, Int32Array>();
  const row = (y: number) => { let r = cache.get(y); if (!r) { r = hrow(y); cache.set(y, r); } return r; };
  const dst = new Uint8Array(outH * rowW);
  for (let dy = 0; dy < outH; dy++) {
    const sy = yt.ofs[dy];
    const S0 = row(sy);
    const S1 = row(Math.min(sy + 1, h - 1));
    for (const k of [...cache.keys()]) if (k < sy) cache.delete(k);
    const b0 = yt.a0[dy];
    const b1 = yt.a1[dy];
    const out = dy * rowW;
    // Vertical pass as cv2's VResizeLinearVec_32s8u: ((S >> 4) * b) >> 16 per row, summed,
    // (+2) >> 2. The recorded resize matches this on every element of a row, the tail included
    // (the scalar (S0 b0 + S1 b1 + 2^21) >> 22 differs by 1 on a few).
    for (let x = 0; x < rowW; x++) dst[out + x] = satU8((sat16(mulHi(sat16(S0[x] >> 4), b0) + mulHi(sat16(S1[x] >> 4), b1)) + 2) >> 2);
  }
  return dst;
}

/** cv2 INTER_AREA for an exact 2x downscale (what INTER_LINEAR becomes there): (sum of 2x2 + 2) >> 2. */
function resizeAreaHalf(src: Uint8Array, h: number, w: number, cn: number): Uint8Array {
  const oh = h / 2;
  const ow = w / 2;
  const dst = new Uint8Array(oh * ow * cn);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      for (let k = 0; k < cn; k++) {
        const i = ((2 * y) * w + 2 * x) * cn + k;
        const sum = src[i] + src[i + cn] + src[i + w * cn] + src[i + w * cn + cn];
        dst[(y * ow + x) * cn + k] = (sum + 2) >> 2;
      }
    }
  }
  return dst;
}

export interface SegInputImage {
  /** BGR uint8 HWC after the test pipeline's resize. */
  bgr: Uint8Array;
  width: number;
  height: number;
  /** The original size (what the logits are resized back to). */
  oriWidth: number;
  oriHeight: number;
}

/** RGB image -> the pipeline's BGR array, resized as `Resize(scale, keep_ratio=True)` when `scale` is set. */
export function segPipeline(img: RgbImage, scale?: readonly [number, number]): SegInputImage {
  const { width, height, data } = img;
  const bgr = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    bgr[3 * i] = data[3 * i + 2];
    bgr[3 * i + 1] = data[3 * i + 1];
    bgr[3 * i + 2] = data[3 * i];
  }
  if (!scale) return { bgr, width, height, oriWidth: width, oriHeight: height };
  const size = rescaleSize(width, height, scale);
  if (size.width < 1 || size.height < 1) throw new SegPreprocessError(`image ${width}x${height} is too small to rescale to ${scale.join('x')}`);
  return { bgr: resizeLinearU8(bgr, height, width, 3, size.height, size.width), width: size.width, height: size.height, oriWidth: width, oriHeight: height };
}
