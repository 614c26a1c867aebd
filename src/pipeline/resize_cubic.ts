/**
 * OpenCV's `cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC)` on a float64 image, the
 * resize of the official preprocessing, reproduced to the last bits that matter.
 *
 * Hand-written because no JS library reproduces OpenCV's cubic: its source coordinate
 * `(i + 0.5) * in / out - 0.5` and that coordinate's fractional part are rounded to float32, and
 * the cubic weights (a = -0.75) are computed in float32, then applied in float64. Keeping the
 * coordinate in float64 instead moves results by up to 2.8e-4 (outside the 1e-4 tolerance).
 * Border: taps outside the image are clamped (replicated). No antialiasing when shrinking.
 */

/** Per output index: 4 clamped source indices and their 4 weights (float32 values). */
export interface CubicTaps {
  outSize: number;
  index: Int32Array;
  weight: Float64Array;
}

const f = Math.fround;

/** OpenCV `interpolateCubic`, in float32 arithmetic as the C++ code computes it. */
export function cubicWeights(x: number): [number, number, number, number] {
  const A = -0.75;
  const x1 = f(x + 1);
  const c0 = f(f(f(f(f(f(A * x1) - f(5 * A)) * x1) + f(8 * A)) * x1) - f(4 * A));
  const c1 = f(f(f(f(f(f(A + 2) * x) - f(A + 3)) * x) * x) + 1);
  const omx = f(1 - x);
  const c2 = f(f(f(f(f(f(A + 2) * omx) - f(A + 3)) * omx) * omx) + 1);
  const c3 = f(f(f(1 - c0) - c1) - c2);
  return [c0, c1, c2, c3];
}

/** Taps of one axis resized from `inSize` to `outSize` samples. */
export function cubicTaps(inSize: number, outSize: number): CubicTaps {
  // cv::resize derives the scale from the inverse ratio, as written here.
  const scale = 1 / (outSize / inSize);
  const index = new Int32Array(outSize * 4);
  const weight = new Float64Array(outSize * 4);
  for (let o = 0; o < outSize; o++) {
    let fx = f((o + 0.5) * scale - 0.5);
    const sx = Math.floor(fx);
    fx = f(fx - sx);
    const w = cubicWeights(fx);
    for (let k = 0; k < 4; k++) {
      index[o * 4 + k] = Math.min(Math.max(sx - 1 + k, 0), inSize - 1);
      weight[o * 4 + k] = w[k];
    }
  }
  return { outSize, index, weight };
}

/**
 * Resizes interleaved `channels`-channel 8-bit pixels, read as float64 through `lut` (the
 * official code resizes `rgb / 255.0`, so `lut[v] = v / 255`), to `outW` x `outH`. Horizontal pass
 * first, then vertical, summing taps in the order OpenCV does. Returns float64 interleaved HWC.
 */
export function resizeCubic(
  src: Uint8Array,
  lut: Float64Array,
  width: number,
  height: number,
  channels: number,
  outW: number,
  outH: number,
): Float64Array {
  const tx = cubicTaps(width, outW);
  const ty = cubicTaps(height, outH);
  const rowLen = outW * channels;
  // Horizontal pass over every source row: [height, outW, channels].
  const rows = new Float64Array(height * rowLen);
  for (let y = 0; y < height; y++) {
    const base = y * width * channels;
    const dst = y * rowLen;
    for (let o = 0; o < outW; o++) {
      const i0 = tx.index[o * 4] * channels + base, i1 = tx.index[o * 4 + 1] * channels + base;
      const i2 = tx.index[o * 4 + 2] * channels + base, i3 = tx.index[o * 4 + 3] * channels + base;
      const a0 = tx.weight[o * 4], a1 = tx.weight[o * 4 + 1], a2 = tx.weight[o * 4 + 2], a3 = tx.weight[o * 4 + 3];
      for (let c = 0; c < channels; c++) {
        rows[dst + o * channels + c] = lut[src[i0 + c]] * a0 + lut[src[i1 + c]] * a1 + lut[src[i2 + c]] * a2 + lut[src[i3 + c]] * a3;
      }
    }
  }
  // Vertical pass.
  const out = new Float64Array(outH * rowLen);
  for (let o = 0; o < outH; o++) {
    const r0 = ty.index[o * 4] * rowLen, r1 = ty.index[o * 4 + 1] * rowLen;
    const r2 = ty.index[o * 4 + 2] * rowLen, r3 = ty.index[o * 4 + 3] * rowLen;
    const b0 = ty.weight[o * 4], b1 = ty.weight[o * 4 + 1], b2 = ty.weight[o * 4 + 2], b3 = ty.weight[o * 4 + 3];
    const dst = o * rowLen;
    for (let x = 0; x < rowLen; x++) {
      out[dst + x] = rows[r0 + x] * b0 + rows[r1 + x] * b1 + rows[r2 + x] * b2 + rows[r3 + x] * b3;
    }
  }
  return out;
}

/** OpenCV's fixed-point weight scale for 8-bit resizes (`INTER_RESIZE_COEF_SCALE`, 2^11). */
const COEF_SCALE = 2048;

/** `saturate_cast<short>(w * INTER_RESIZE_COEF_SCALE)`: lrint, halves to even. */
function fixedWeight(w: number): number {
  const v = w * COEF_SCALE;
  let r = Math.round(v);
  if (r - v === 0.5 && r % 2 !== 0) r -= 1;
  return r;
}

/**
 * `cv2.resize(img, (outW, outH), interpolation=cv2.INTER_CUBIC)` on 8-bit pixels (OpenCV 4.6.0):
 * the same taps as `resizeCubic`, but OpenCV's fixed-point path for uint8 — weights rounded to
 * multiples of 1/2048, integer horizontal sums, then the vertical sum in float32
 * (`VResizeCubicVec_32s8u`, SIMD on every x86 and ARM build) rounded half to even, or in integers
 * `(v + 2^21) >> 22` for the tail the SIMD loop leaves (fewer than 8 values of a row).
 * Interleaved `channels`-channel input and output.
 */
export function resizeCubicU8(
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outW: number,
  outH: number,
): Uint8Array {
  const tx = cubicTaps(width, outW);
  const ty = cubicTaps(height, outH);
  const ax = Int32Array.from(tx.weight, fixedWeight);
  const ay = Int32Array.from(ty.weight, fixedWeight);
  const rowLen = outW * channels;
  // Horizontal pass: exact integers.
  const rows = new Int32Array(height * rowLen);
  for (let y = 0; y < height; y++) {
    const base = y * width * channels;
    const dst = y * rowLen;
    for (let o = 0; o < outW; o++) {
      for (let c = 0; c < channels; c++) {
        let v = 0;
        for (let k = 0; k < 4; k++) v += src[base + tx.index[o * 4 + k] * channels + c] * ax[o * 4 + k];
        rows[dst + o * channels + c] = v;
      }
    }
  }
  const out = new Uint8Array(outH * rowLen);
  const fscale = Math.fround(1 / (COEF_SCALE * COEF_SCALE));
  const simdEnd = rowLen - (rowLen % SIMD_INT16_LANES);
  for (let o = 0; o < outH; o++) {
    const r = [0, 1, 2, 3].map((k) => ty.index[o * 4 + k] * rowLen);
    const b = [0, 1, 2, 3].map((k) => ay[o * 4 + k]);
    const fb = b.map((v) => Math.fround(v * fscale));
    const dst = o * rowLen;
    for (let x = 0; x < rowLen; x++) {
      const s0 = rows[r[0] + x], s1 = rows[r[1] + x], s2 = rows[r[2] + x], s3 = rows[r[3] + x];
      if (x < simdEnd) {
        // v_muladd(s0, b0, v_muladd(s1, b1, v_muladd(s2, b2, s3 * b3))), float32, no FMA at
        // OpenCV's SSE2 baseline; then v_round (halves to even) and saturating packs.
        const fl = Math.fround;
        const inner = fl(fl(fl(s2) * fb[2]) + fl(fl(s3) * fb[3]));
        const mid = fl(fl(fl(s1) * fb[1]) + inner);
        out[dst + x] = saturate8(fl(fl(fl(s0) * fb[0]) + mid));
      } else {
        const v = s0 * b[0] + s1 * b[1] + s2 * b[2] + s3 * b[3];
        const q = Math.floor((v + (1 << 21)) / (1 << 22));
        out[dst + x] = q < 0 ? 0 : q > 255 ? 255 : q;
      }
    }
  }
  return out;
}

/** v_int16 lanes of a 128-bit SIMD register: the SIMD loop's step. */
const SIMD_INT16_LANES = 8;

function saturate8(v: number): number {
  let r = Math.round(v);
  if (r - v === 0.5 && r % 2 !== 0) r -= 1;
  return r < 0 ? 0 : r > 255 ? 255 : r;
}
