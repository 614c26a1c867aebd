/**
 * The zero-shot protocol for relative models (MiDaS, Ranftl et al. 2020; Depth Anything V1/V2):
 * the network predicts affine-invariant disparity, so before any metric it is fitted to the
 * ground truth's disparity (1 / depth) by least-squares scale and shift over the valid pixels,
 * then inverted to depth. As MiDaS's evaluation (`compute_scale_and_shift` and `BadPixelMetric`,
 * https://gist.github.com/ranftlr/a1c7a24ebb24ce0e2f2ace5bce917022), the aligned disparity is
 * clamped below at 1 / maxDepth (the "disparity cap") before inverting, so no aligned depth
 * exceeds the dataset's range and none is negative or infinite.
 */
import { EvalError } from './metrics';

export interface ScaleShift {
  scale: number;
  shift: number;
}

/**
 * argmin over (s, t) of sum over masked i of (s * pred[i] + t - target[i])^2, in float64 and
 * centred (the textbook normal equations lose digits when disparities are large). A constant
 * prediction has no scale: the fit is then s = 0, t = mean(target), the least-squares optimum
 * (MiDaS returns s = t = 0 there, which caps every pixel; ours is the better-defined answer).
 */
export function fitScaleShift(pred: ArrayLike<number>, target: ArrayLike<number>, mask: ArrayLike<number | boolean>): ScaleShift {
  if (pred.length !== target.length || mask.length !== target.length) {
    throw new EvalError(`fitScaleShift: prediction ${pred.length}, target ${target.length} and mask ${mask.length} values differ`);
  }
  let n = 0, sp = 0, st = 0;
  for (let i = 0; i < target.length; i++) {
    if (!mask[i]) continue;
    n++;
    sp += pred[i];
    st += target[i];
  }
  if (n === 0) throw new EvalError('fitScaleShift: no valid pixels to align on');
  const mp = sp / n, mt = st / n;
  let spp = 0, spt = 0;
  for (let i = 0; i < target.length; i++) {
    if (!mask[i]) continue;
    const dp = pred[i] - mp;
    spp += dp * dp;
    spt += dp * (target[i] - mt);
  }
  if (!Number.isFinite(spp) || !Number.isFinite(spt)) throw new EvalError('fitScaleShift: prediction or target has non-finite values on valid pixels');
  const scale = spp > 0 ? spt / spp : 0;
  return { scale, shift: mt - scale * mp };
}

export interface AlignedDepth extends ScaleShift {
  /** Aligned depth in metres for every pixel (masked or not), in (0, maxDepth]. */
  depth: Float64Array;
}

/**
 * Aligns a relative disparity prediction to metric ground-truth depth: fit in disparity space
 * on the masked pixels (gt > 0 there), apply to all, clamp at 1 / maxDepth, invert.
 */
export function alignDisparityToDepth(pred: ArrayLike<number>, gtDepth: ArrayLike<number>, mask: ArrayLike<number | boolean>, maxDepth: number): AlignedDepth {
  if (!(maxDepth > 0 && Number.isFinite(maxDepth))) throw new EvalError(`alignDisparityToDepth: maxDepth must be positive and finite, got ${maxDepth}`);
  const target = new Float64Array(gtDepth.length);
  for (let i = 0; i < gtDepth.length; i++) {
    if (!mask[i]) continue;
    if (!(gtDepth[i] > 0)) throw new EvalError(`alignDisparityToDepth: masked pixel ${i} has ground truth ${gtDepth[i]}; it must be positive`);
    target[i] = 1 / gtDepth[i];
  }
  const { scale, shift } = fitScaleShift(pred, target, mask);
  const cap = 1 / maxDepth;
  const depth = new Float64Array(pred.length);
  for (let i = 0; i < pred.length; i++) {
    const d = scale * pred[i] + shift;
    // NaN fails the comparison too and is capped (a NaN prediction becomes the far limit).
    depth[i] = 1 / (d > cap ? d : cap);
  }
  return { depth, scale, shift };
}
