/**
 * `utils/util.py` of Video Depth Anything in the arithmetic the official code runs it in:
 * `compute_scale_and_shift` on float32 numpy arrays (numpy's pairwise float32 sums) and
 * `get_interpolate_frames` (float32 maps times Python-float weights).
 */
const f = Math.fround;

/** numpy's float32 `add.reduce` over a contiguous array: pairwise summation, float32 accumulators. */
export function numpySumF32(a: Float32Array, map: (v: number, i: number) => number = (v) => v): number {
  const sum = (lo: number, n: number): number => {
    if (n < 8) {
      let res = -0;
      for (let i = 0; i < n; i++) res = f(res + map(a[lo + i], lo + i));
      return res;
    }
    if (n <= 128) {
      const r = [0, 0, 0, 0, 0, 0, 0, 0].map((_, j) => map(a[lo + j], lo + j));
      let i = 8;
      for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] = f(r[j] + map(a[lo + i + j], lo + i + j));
      let res = f(f(f(r[0] + r[1]) + f(r[2] + r[3])) + f(f(r[4] + r[5]) + f(r[6] + r[7])));
      for (; i < n; i++) res = f(res + map(a[lo + i], lo + i));
      return res;
    }
    let n2 = Math.floor(n / 2);
    n2 -= n2 % 8;
    return f(sum(lo, n2) + sum(lo + n2, n - n2));
  };
  return f(0 + sum(0, a.length));
}

/**
 * Least squares `scale * prediction + shift ~ target` over every pixel (the mask is all ones in
 * `infer_video_depth`), float32 throughout as numpy computes it; (1, 0) when the system is singular.
 */
export function computeScaleAndShift(prediction: Float32Array, target: Float32Array): { scale: number; shift: number } {
  if (prediction.length !== target.length) throw new Error(`computeScaleAndShift: ${prediction.length} predictions for ${target.length} targets`);
  const a00 = numpySumF32(prediction, (p) => f(p * p));
  const a01 = numpySumF32(prediction);
  const a11 = f(prediction.length); // sum(mask): exact below 2^24 pixels
  const b0 = numpySumF32(prediction, (p, i) => f(p * target[i]));
  const b1 = numpySumF32(target);
  const det = f(f(a00 * a11) - f(a01 * a01));
  if (det === 0) return { scale: 1, shift: 0 };
  return {
    scale: f(f(f(a11 * b0) - f(a01 * b1)) / det),
    shift: f(f(f(-a01 * b0) + f(a00 * b1)) / det),
  };
}

/** depth * scale + shift, negatives set to 0 (float32). */
export function scaleShiftClamp(d: Float32Array, scale: number, shift: number): Float32Array {
  const out = new Float32Array(d.length);
  for (let i = 0; i < d.length; i++) {
    const v = f(f(d[i] * scale) + shift);
    out[i] = v < 0 ? 0 : v;
  }
  return out;
}

/** `get_interpolate_frames`: pre * (1 - w) + post * w, w = 0, 1/(n-1), ..., 1. */
export function interpolateFrames(pre: Float32Array[], post: Float32Array[]): Float32Array[] {
  if (pre.length !== post.length) throw new Error(`interpolateFrames: ${pre.length} and ${post.length} frames`);
  const n = pre.length;
  const step = 1 / (n - 1);
  return pre.map((a, k) => {
    const w = k === 0 ? 0 : k === n - 1 ? 1 : k * step;
    const wa = f(1 - w), wb = f(w);
    const b = post[k];
    const out = new Float32Array(a.length);
    for (let i = 0; i < a.length; i++) out[i] = f(f(a[i] * wa) + f(b[i] * wb));
    return out;
  });
}
