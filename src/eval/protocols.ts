/**
 * Evaluation protocols: which pixels count (depth range, evaluation crop), and how a prediction
 * becomes metres before the metrics (aligned for relative models, as is for metric ones).
 *
 * Sources of the numbers below:
 * - Ranges and crops per dataset: the Depth Anything V1 metric-depth evaluation, which is
 *   ZoeDepth's: `metric_depth/zoedepth/utils/config.py` (DATASETS_CONFIG: nyu 1e-3..10 m with
 *   eigen_crop; kitti 1e-3..80 m with garg_crop and do_kb_crop) and `zoedepth/utils/misc.py`
 *   (`compute_metrics`: valid = min < gt < max, crop bounds below, prediction clamped to
 *   [min, max], inf -> max, NaN -> min, bilinear align_corners resize to the GT's size).
 * - KB crop (352x1216, bottom-centred): ZoeDepth `data/data_mono.py` (`do_kb_crop`), from BTS.
 * - Alignment for relative models: MiDaS (see align.ts).
 */
import { alignDisparityToDepth } from './align';
import { DepthMetrics, EvalError, computeMetrics } from './metrics';

export type CropName = 'none' | 'eigen' | 'garg';
export const CROP_NAMES: readonly CropName[] = ['none', 'eigen', 'garg'];

export type ProtocolName = 'relative' | 'metric';

/** What pixels count, and how. All depths in metres. */
export interface RangeAndCrop {
  /** Ground truth must be strictly above this (ZoeDepth: `gt > min_depth_eval`). */
  minDepth: number;
  /** ...and strictly below this; relative predictions are capped at it (disparity >= 1 / maxDepth). */
  maxDepth: number;
  crop: CropName;
}

/**
 * The evaluation crop as a row/column window [top, bottom) x [left, right) on an h x w map.
 * - eigen (NYUv2, Eigen et al. 2014): rows 45..470, cols 41..600 of the 480x640 frame; only
 *   defined for that size (ZoeDepth's assert for it is commented out; ours is an error).
 * - garg (KITTI, Garg et al. 2016): rows int(0.40810811 h)..int(0.99189189 h), cols
 *   int(0.03594771 w)..int(0.96405229 w) (Python `int` truncates, as Math.trunc here).
 */
export function cropWindow(crop: CropName, h: number, w: number): { top: number; bottom: number; left: number; right: number } {
  if (crop === 'none') return { top: 0, bottom: h, left: 0, right: w };
  if (crop === 'eigen') {
    if (h !== 480 || w !== 640) throw new EvalError(`the Eigen crop is defined on 480x640 ground truth (NYUv2); this one is ${w}x${h}. Use --crop none or a 640x480 export`);
    return { top: 45, bottom: 471, left: 41, right: 601 };
  }
  return { top: Math.trunc(0.40810811 * h), bottom: Math.trunc(0.99189189 * h), left: Math.trunc(0.03594771 * w), right: Math.trunc(0.96405229 * w) };
}

/** 1 where the ground truth is valid (finite, inside the range) and inside the crop. */
export function validMask(gt: ArrayLike<number>, width: number, height: number, rc: RangeAndCrop): Uint8Array {
  if (gt.length !== width * height) throw new EvalError(`ground truth has ${gt.length} values for ${width}x${height}`);
  const { top, bottom, left, right } = cropWindow(rc.crop, height, width);
  const mask = new Uint8Array(gt.length);
  for (let y = top; y < bottom; y++) {
    for (let x = left; x < right; x++) {
      const i = y * width + x;
      const g = gt[i];
      // NaN fails both comparisons; +inf fails the second.
      if (g > rc.minDepth && g < rc.maxDepth) mask[i] = 1;
    }
  }
  return mask;
}

/** Too little ground truth in an image to score it (it is skipped, not failed). */
export class NotEnoughGroundTruth extends EvalError {
  constructor(readonly validPixels: number, message: string) {
    super(message);
    this.name = 'NotEnoughGroundTruth';
  }
}

export interface ImageResult {
  metrics: DepthMetrics;
  validPixels: number;
  /** The fitted disparity scale and shift (relative protocol only). */
  scale?: number;
  shift?: number;
}

/**
 * One image: `pred` (at the ground truth's size; disparity for `relative`, metres for `metric`)
 * against `gt` (metres, 0 or out of range = invalid) under the range and crop.
 */
export function evaluateImage(pred: ArrayLike<number>, gt: ArrayLike<number>, width: number, height: number, protocol: ProtocolName, rc: RangeAndCrop, minValidPixels = 1): ImageResult {
  if (pred.length !== gt.length) throw new EvalError(`prediction has ${pred.length} values, ground truth ${gt.length} (${width}x${height})`);
  const mask = validMask(gt, width, height, rc);
  let validPixels = 0;
  for (let i = 0; i < mask.length; i++) validPixels += mask[i];
  if (validPixels < minValidPixels) throw new NotEnoughGroundTruth(validPixels, `only ${validPixels} valid ground-truth pixels (in ${rc.minDepth}..${rc.maxDepth} m, crop ${rc.crop}); at least ${minValidPixels} needed`);
  if (protocol === 'relative') {
    const { depth, scale, shift } = alignDisparityToDepth(pred, gt, mask, rc.maxDepth);
    return { metrics: computeMetrics(depth, gt, mask), validPixels, scale, shift };
  }
  // Metric: ZoeDepth's clamp to the evaluation range (inf -> max, NaN -> min).
  // (Comparisons, not Math.min/max: those are slow global lookups in jest's sandbox.)
  const { minDepth: lo, maxDepth: hi } = rc;
  const clamped = new Float64Array(pred.length);
  for (let i = 0; i < pred.length; i++) {
    const p = pred[i];
    clamped[i] = p !== p ? lo : p < lo ? lo : p > hi ? hi : p; // p !== p: NaN
  }
  return { metrics: computeMetrics(clamped, gt, mask), validPixels };
}
