/**
 * The order statistics the official DA3 code takes, each with its library's arithmetic:
 * `torch.quantile` (linear, float32), `torch.median` (the lower median), `numpy.percentile`
 * (linear, numpy 1.24) and `numpy.median`.
 */

const f = Math.fround;

/** Ascending copy; NaN last (as torch.sort and numpy partition place them). */
function sorted(values: ArrayLike<number>, f32: boolean): Float64Array | Float32Array {
  const out = f32 ? Float32Array.from(values) : Float64Array.from(values);
  return out.sort();
}

/**
 * `torch.quantile(x, q)` (interpolation "linear") of float32 values, as torch 1.13 computes it:
 * `rank = float32(q) * (n - 1)` in float32, then `lerp` in float32. NaN anywhere gives NaN.
 */
export function torchQuantileF32(values: ArrayLike<number>, q: number): number {
  const n = values.length;
  if (n === 0) throw new Error('torch.quantile of an empty tensor');
  const s = sorted(values, true);
  if (Number.isNaN(s[n - 1])) return NaN;
  const rank = f(f(q) * (n - 1));
  const below = Math.trunc(rank);
  const above = Math.ceil(rank);
  const w = f(rank - below);
  const a = s[below], b = s[above];
  // at::lerp: weight < 0.5 ? self + weight * (end - self) : end - (end - self) * (1 - weight)
  return Math.abs(w) < 0.5 ? f(a + f(w * f(b - a))) : f(b - f(f(b - a) * f(1 - w)));
}

/** `torch.median(x)` of a flat tensor: the lower of the two middle values. */
export function torchMedianLower(values: ArrayLike<number>): number {
  const s = sorted(values, false);
  return s[Math.floor((s.length - 1) / 2)];
}

/**
 * `numpy.percentile(x, p)` (method "linear", numpy 1.24): virtual index `(n - 1) * p / 100` in
 * float64, then `_lerp`. `f32` says the array is float32: numpy then takes `b - a` in float32.
 */
export function numpyPercentile(values: ArrayLike<number>, p: number, f32: boolean): number {
  const n = values.length;
  if (n === 0) throw new Error('numpy.percentile of an empty array');
  const s = sorted(values, f32);
  if (Number.isNaN(s[n - 1])) return NaN;
  const vi = (n - 1) * (p / 100);
  let lo: number, hi: number;
  if (vi >= n - 1) lo = hi = n - 1;
  else if (vi < 0) lo = hi = 0;
  else { lo = Math.floor(vi); hi = lo + 1; }
  const t = vi - Math.floor(vi);
  const a = s[lo], b = s[hi];
  const d = f32 ? f(b - a) : b - a;
  return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

/** `numpy.median(x)` of float64 values: the middle value, or the mean of the two middle ones. */
export function numpyMedian(values: ArrayLike<number>): number {
  const s = sorted(values, false);
  const n = s.length;
  if (n === 0) throw new Error('numpy.median of an empty array');
  if (Number.isNaN(s[n - 1])) return NaN;
  const h = n >> 1;
  return n % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}
