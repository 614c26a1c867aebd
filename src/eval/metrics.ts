/**
 * The standard monocular depth metrics (Eigen et al. 2014), over valid pixels only, as
 * ZoeDepth's `compute_errors` (zoedepth/utils/misc.py) and Depth Anything V2's
 * `metric_depth/util/metric.py` compute them:
 *
 *   abs_rel  = mean(|gt - pred| / gt)          sq_rel   = mean((gt - pred)^2 / gt)
 *   rmse     = sqrt(mean((gt - pred)^2))       rmse_log = sqrt(mean((ln gt - ln pred)^2))
 *   log10    = mean(|log10 gt - log10 pred|)   delta_k  = share of max(gt/pred, pred/gt) < 1.25^k
 *
 * Sums in float64. Hand-written: a dozen lines, and no npm package computes these.
 */

export const METRIC_NAMES = ['abs_rel', 'sq_rel', 'rmse', 'rmse_log', 'log10', 'delta1', 'delta2', 'delta3'] as const;
export type MetricName = (typeof METRIC_NAMES)[number];
export type DepthMetrics = Record<MetricName, number>;

/** Lower is better for errors, higher for the delta accuracies. */
export const HIGHER_IS_BETTER: Record<MetricName, boolean> = {
  abs_rel: false, sq_rel: false, rmse: false, rmse_log: false, log10: false, delta1: true, delta2: true, delta3: true,
};

export class EvalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EvalError';
  }
}

// Hoisted: under jest's vm sandbox every `Math.x` in a hot loop is a slow global lookup.
const { abs, log, log10: lg10, max, sqrt } = Math;
const isFinite = Number.isFinite;

/**
 * Metrics of `pred` against `gt` (both in metres, same length) over the pixels where `mask` is
 * set (every pixel when absent). Every compared value must be positive and finite: the caller
 * masks the ground truth and clamps the prediction.
 */
export function computeMetrics(pred: ArrayLike<number>, gt: ArrayLike<number>, mask?: ArrayLike<number | boolean>): DepthMetrics {
  if (pred.length !== gt.length) throw new EvalError(`computeMetrics: prediction has ${pred.length} values, ground truth ${gt.length}`);
  if (mask && mask.length !== gt.length) throw new EvalError(`computeMetrics: mask has ${mask.length} values, ground truth ${gt.length}`);
  const t1 = 1.25, t2 = 1.25 ** 2, t3 = 1.25 ** 3;
  let n = 0, absRel = 0, sqRel = 0, sq = 0, sqLog = 0, log10 = 0, d1 = 0, d2 = 0, d3 = 0;
  for (let i = 0; i < gt.length; i++) {
    if (mask && !mask[i]) continue;
    const g = gt[i], p = pred[i];
    if (!(g > 0 && p > 0 && isFinite(g) && isFinite(p))) {
      throw new EvalError(`computeMetrics: pixel ${i} compares prediction ${p} with ground truth ${g}; both must be positive and finite`);
    }
    const diff = g - p;
    const lg = log(g) - log(p);
    const ratio = max(g / p, p / g);
    n++;
    absRel += abs(diff) / g;
    sqRel += (diff * diff) / g;
    sq += diff * diff;
    sqLog += lg * lg;
    log10 += abs(lg10(g) - lg10(p));
    if (ratio < t1) d1++;
    if (ratio < t2) d2++;
    if (ratio < t3) d3++;
  }
  if (n === 0) throw new EvalError('computeMetrics: no valid pixels to compare');
  return {
    abs_rel: absRel / n,
    sq_rel: sqRel / n,
    rmse: sqrt(sq / n),
    rmse_log: sqrt(sqLog / n),
    log10: log10 / n,
    delta1: d1 / n,
    delta2: d2 / n,
    delta3: d3 / n,
  };
}

/** Mean of per-image metrics (each image weighs the same, as ZoeDepth's and V2's evaluation loops). */
export function meanMetrics(list: readonly DepthMetrics[]): DepthMetrics {
  if (!list.length) throw new EvalError('meanMetrics: no images to average');
  const out = {} as DepthMetrics;
  for (const k of METRIC_NAMES) out[k] = list.reduce((s, m) => s + m[k], 0) / list.length;
  return out;
}
