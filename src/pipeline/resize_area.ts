/**
 * OpenCV's `cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)` on an 8-bit image (OpenCV
 * 4.6.0, imgproc/src/resize.cpp), bit for bit. Depth Anything 3's InputProcessor shrinks with it.
 *
 * Hand-written because no JS library reproduces it. Two paths, as OpenCV picks them:
 * - integer scales (`src = k * dst` on both axes, checked as OpenCV does in float64): the mean of
 *   each k_x x k_y block; for 2x2 blocks `(sum + 2) >> 2` (rounds halves up), otherwise
 *   `cvRound(sum * (1.f / area))` in float32 (halves to even);
 * - any other shrink: the separable area weights of `computeResizeAreaTab` (float32 alphas),
 *   accumulated per source row in float32 in OpenCV's order, then `cvRound` (halves to even).
 * Enlarging with INTER_AREA (bilinear emulation in OpenCV) is not used by DA3 and is refused.
 */

const f = Math.fround;

/** `cvRound` of a float / double then `saturate_cast<uchar>`: halves to even, clamped to 0..255. */
export function saturateU8(v: number): number {
  let r = Math.round(v);
  if (r - v === 0.5 && r % 2 !== 0) r -= 1; // Math.round sends halves up; lrint sends them to even.
  return r < 0 ? 0 : r > 255 ? 255 : r;
}

interface AreaTab { di: Int32Array; si: Int32Array; alpha: Float32Array; size: number }

/** `computeResizeAreaTab` (resize.cpp): source index, destination index and float32 weight. */
function areaTab(ssize: number, dsize: number, cn: number, scale: number): AreaTab {
  const di = new Int32Array(ssize * 2 + 2), si = new Int32Array(ssize * 2 + 2), alpha = new Float32Array(ssize * 2 + 2);
  let k = 0;
  for (let dx = 0; dx < dsize; dx++) {
    const fsx1 = dx * scale;
    const fsx2 = fsx1 + scale;
    const cellWidth = Math.min(scale, ssize - fsx1);
    let sx1 = Math.ceil(fsx1);
    let sx2 = Math.floor(fsx2);
    sx2 = Math.min(sx2, ssize - 1);
    sx1 = Math.min(sx1, sx2);
    if (sx1 - fsx1 > 1e-3) {
      di[k] = dx * cn; si[k] = (sx1 - 1) * cn; alpha[k++] = (sx1 - fsx1) / cellWidth;
    }
    for (let sx = sx1; sx < sx2; sx++) {
      di[k] = dx * cn; si[k] = sx * cn; alpha[k++] = 1.0 / cellWidth;
    }
    if (fsx2 - sx2 > 1e-3) {
      di[k] = dx * cn; si[k] = sx2 * cn; alpha[k++] = Math.min(Math.min(fsx2 - sx2, 1), cellWidth) / cellWidth;
    }
  }
  return { di, si, alpha, size: k };
}

/** The integer-scale path (`resizeAreaFast_` with `ResizeAreaFastVec`). */
function resizeAreaFast(src: Uint8Array, width: number, cn: number, outW: number, outH: number, kx: number, ky: number): Uint8Array {
  const out = new Uint8Array(outW * outH * cn);
  const rowLen = width * cn;
  const twoByTwo = kx === 2 && ky === 2 && (cn === 1 || cn === 3 || cn === 4);
  const scale = f(1 / (kx * ky));
  for (let dy = 0; dy < outH; dy++) {
    const sy0 = dy * ky;
    for (let dx = 0; dx < outW; dx++) {
      for (let c = 0; c < cn; c++) {
        let sum = 0;
        for (let sy = 0; sy < ky; sy++) {
          const base = (sy0 + sy) * rowLen + dx * kx * cn + c;
          for (let sx = 0; sx < kx; sx++) sum += src[base + sx * cn];
        }
        out[(dy * outW + dx) * cn + c] = twoByTwo ? (sum + 2) >> 2 : saturateU8(f(sum * scale));
      }
    }
  }
  return out;
}

/**
 * Resizes interleaved `cn`-channel 8-bit pixels from `width` x `height` to `outW` x `outH` (both
 * no larger) as `cv2.resize(..., interpolation=cv2.INTER_AREA)` does.
 */
export function resizeAreaU8(src: Uint8Array, width: number, height: number, cn: number, outW: number, outH: number): Uint8Array {
  if (src.length !== width * height * cn) throw new Error(`resizeAreaU8: ${src.length} bytes for ${width}x${height}x${cn}`);
  // cv::resize: inv_scale = dsize / ssize (double), scale = 1 / inv_scale.
  const scaleX = 1 / (outW / width);
  const scaleY = 1 / (outH / height);
  if (!(scaleX >= 1 && scaleY >= 1)) {
    throw new Error(`resizeAreaU8: ${width}x${height} -> ${outW}x${outH} enlarges; INTER_AREA is only ported for shrinking`);
  }
  const ix = Math.round(scaleX), iy = Math.round(scaleY);
  if (Math.abs(scaleX - ix) < Number.EPSILON && Math.abs(scaleY - iy) < Number.EPSILON) {
    return resizeAreaFast(src, width, cn, outW, outH, ix, iy);
  }
  const xtab = areaTab(width, outW, cn, scaleX);
  const ytab = areaTab(height, outH, 1, scaleY);
  const dw = outW * cn;
  const out = new Uint8Array(dw * outH);
  const buf = new Float32Array(dw);
  const sum = new Float32Array(dw);
  let prevDy = ytab.di[0];
  const flush = (dy: number): void => {
    for (let x = 0; x < dw; x++) out[dy * dw + x] = saturateU8(sum[x]);
  };
  // ResizeArea_Invoker over all rows: per source row, the horizontal weighted sums (buf), then
  // accumulated into the destination row (sum), every step rounded to float32 as in C++.
  for (let j = 0; j < ytab.size; j++) {
    const beta = ytab.alpha[j];
    const dy = ytab.di[j];
    const rowBase = ytab.si[j] * width * cn;
    buf.fill(0);
    for (let k = 0; k < xtab.size; k++) {
      const sxn = rowBase + xtab.si[k];
      const dxn = xtab.di[k];
      const alpha = xtab.alpha[k];
      for (let c = 0; c < cn; c++) buf[dxn + c] = buf[dxn + c] + f(src[sxn + c] * alpha);
    }
    if (dy !== prevDy) {
      flush(prevDy);
      for (let x = 0; x < dw; x++) sum[x] = beta * buf[x];
      prevDy = dy;
    } else {
      for (let x = 0; x < dw; x++) sum[x] = sum[x] + f(beta * buf[x]);
    }
  }
  flush(prevDy);
  return out;
}
