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
