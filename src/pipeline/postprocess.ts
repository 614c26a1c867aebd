/**
 * Back from the network's size to the image's: the official
 * `F.interpolate(depth[:, None], (h, w), mode='bilinear', align_corners=True)`.
 *
 * Done in JS on the downloaded network output rather than with tfjs's resizeBilinear: the map is
 * small and the result (up to 48 MP for a large photo) is needed on the CPU anyway, and two
 * separable passes over precomputed taps are fast on any backend.
 */

/** Depth at an image's own size, row-major `data[y * width + x]`. */
export interface DepthMap {
  data: Float32Array;
  width: number;
  height: number;
  /** True for metric models: depth in metres. False: relative depth (larger is nearer). */
  metric: boolean;
}

interface LinearTaps { i0: Int32Array; i1: Int32Array; l1: Float64Array }

/**
 * PyTorch's align_corners source index, in float32 as its CPU kernel computes it:
 * scale = (in - 1) / (out - 1), x = scale * i, i0 = floor(x), lambda = x - i0.
 */
function linearTaps(inSize: number, outSize: number): LinearTaps {
  const f = Math.fround;
  const scale = outSize > 1 ? f((inSize - 1) / (outSize - 1)) : 0;
  const i0 = new Int32Array(outSize), i1 = new Int32Array(outSize), l1 = new Float64Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const x = f(scale * o);
    const k = Math.min(Math.floor(x), inSize - 1);
    i0[o] = k;
    i1[o] = k < inSize - 1 ? k + 1 : k;
    l1[o] = Math.min(Math.max(f(x - k), 0), 1);
  }
  return { i0, i1, l1 };
}

/** Bilinear resize with aligned corners of a [h, w] map to [outH, outW]. */
export function resizeBilinearAlignCorners(src: Float32Array, h: number, w: number, outH: number, outW: number): Float32Array {
  if (src.length !== h * w) throw new Error(`resizeBilinearAlignCorners: ${src.length} values for ${h}x${w}`);
  if (!(outH > 0 && outW > 0)) throw new Error(`resizeBilinearAlignCorners: output size ${outH}x${outW} must be positive`);
  const tx = linearTaps(w, outW);
  const ty = linearTaps(h, outH);
  // Horizontal pass on every source row: [h, outW].
  const rows = new Float64Array(h * outW);
  for (let y = 0; y < h; y++) {
    const s = y * w, d = y * outW;
    for (let o = 0; o < outW; o++) {
      const l = tx.l1[o];
      rows[d + o] = src[s + tx.i0[o]] * (1 - l) + src[s + tx.i1[o]] * l;
    }
  }
  const out = new Float32Array(outH * outW);
  for (let o = 0; o < outH; o++) {
    const r0 = ty.i0[o] * outW, r1 = ty.i1[o] * outW, l = ty.l1[o], d = o * outW;
    for (let x = 0; x < outW; x++) out[d + x] = rows[r0 + x] * (1 - l) + rows[r1 + x] * l;
  }
  return out;
}
