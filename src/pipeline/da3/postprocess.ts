/**
 * Depth Anything 3 post-processing around the network, as the official code does it
 * (api.py, model/da3.py, utils/alignment.py, utils/io/output_processor.py at commit 2c21ea8).
 * Pure functions over flat typed arrays; `[N, H, W]` maps are one scene of N views (B = 1).
 *
 *   da3ProcessedImages(input, views, height, width) -> Uint8Array [N, H, W, 3]
 *   da3SkyPostprocess(depth, sky) -> { depth, nonSkyMask, maxDepth, skyMask }      (mono / metric)
 *   da3ApplyMetricScaling(depth, intrinsics, views, height, width) -> Float32Array (DA3METRIC)
 */
import { DA3_MEAN, DA3_STD } from './preprocess';
import { torchQuantileF32 } from './stats';

const f = Math.fround;

/**
 * `prediction.processed_images`: the network input `[N, 3, H, W]` back to 8-bit RGB `[N, H, W, 3]`,
 * `(clip(x * std + mean, 0, 1) * 255).astype(uint8)` in float64 — truncation, so many values
 * are one below the source pixel (as the official exporters see them).
 */
export function da3ProcessedImages(input: Float32Array, views: number, height: number, width: number): Uint8Array {
  const hw = height * width;
  if (input.length !== views * 3 * hw) throw new Error(`da3ProcessedImages: ${input.length} values for [${views}, 3, ${height}, ${width}]`);
  const out = new Uint8Array(views * hw * 3);
  for (let i = 0; i < views; i++) {
    for (let c = 0; c < 3; c++) {
      const src = (i * 3 + c) * hw;
      for (let p = 0; p < hw; p++) {
        const v = Math.min(Math.max(input[src + p] * DA3_STD[c] + DA3_MEAN[c], 0), 1);
        out[(i * hw + p) * 3 + c] = Math.trunc(v * 255);
      }
    }
  }
  return out;
}

/** Official thresholds: non-sky is `sky < 0.3` (compute_sky_mask); `prediction.sky` is `sky >= 0.5`. */
export const DA3_NON_SKY_THRESHOLD = 0.3;
export const DA3_SKY_MASK_THRESHOLD = 0.5;
/** `_process_mono_sky_estimation` subsamples (torch.randint) above this many non-sky pixels. */
export const DA3_SKY_QUANTILE_MAX_SAMPLES = 100_000;

export interface Da3SkyResult {
  /** The depth with sky pixels set to `maxDepth` (unchanged when the fill is skipped). */
  depth: Float32Array;
  /** `model.compute_sky_mask`: 1 where `sky < 0.3`. */
  nonSkyMask: Uint8Array;
  /** `torch.quantile(depth[non-sky], 0.99)`, or null when there are <= 10 sky or non-sky pixels. */
  maxDepth: number | null;
  /** `prediction.sky`: 1 where `sky >= 0.5`. */
  skyMask: Uint8Array;
}

/**
 * `DepthAnything3Net._process_mono_sky_estimation` + the output processor's sky mask, over all
 * views of the scene together (`depth`, `sky`: `[N, H, W]` float32, the net's `depth` and `sky`).
 * Above 100000 non-sky pixels the official code takes the quantile of a torch.randint sample,
 * which no port can reproduce; this takes it over all of them (deterministic, documented).
 */
export function da3SkyPostprocess(depth: Float32Array, sky: Float32Array): Da3SkyResult {
  if (depth.length !== sky.length) throw new Error(`da3SkyPostprocess: depth has ${depth.length} values, sky ${sky.length}`);
  const n = depth.length;
  const nonSkyMask = new Uint8Array(n);
  const skyMask = new Uint8Array(n);
  let nonSky = 0;
  for (let i = 0; i < n; i++) {
    if (sky[i] < f(DA3_NON_SKY_THRESHOLD)) { nonSkyMask[i] = 1; nonSky++; }
    if (sky[i] >= f(DA3_SKY_MASK_THRESHOLD)) skyMask[i] = 1;
  }
  if (nonSky <= 10 || n - nonSky <= 10) return { depth: Float32Array.from(depth), nonSkyMask, maxDepth: null, skyMask };
  const values = new Float32Array(nonSky);
  for (let i = 0, k = 0; i < n; i++) if (nonSkyMask[i]) values[k++] = depth[i];
  const maxDepth = torchQuantileF32(values, 0.99);
  const out = Float32Array.from(depth);
  for (let i = 0; i < n; i++) if (!nonSkyMask[i]) out[i] = maxDepth;
  return { depth: out, nonSkyMask, maxDepth, skyMask };
}

/**
 * `apply_metric_scaling(depth, K)`: `depth * (((fx + fy) / 2) / 300)` per view, float32 — the
 * DA3METRIC rule (metres = focal x net output / 300, focal in pixels at the processed size).
 * `intrinsics`: `[N, 3, 3]`; `depth`: `[N, H, W]`.
 */
export function da3ApplyMetricScaling(depth: Float32Array, intrinsics: ArrayLike<number>, views: number, height: number, width: number, scaleFactor = 300): Float32Array {
  const hw = height * width;
  if (depth.length !== views * hw || intrinsics.length !== views * 9) {
    throw new Error(`da3ApplyMetricScaling: depth ${depth.length} values, intrinsics ${intrinsics.length}, for ${views} view(s) of ${height}x${width}`);
  }
  const out = new Float32Array(depth.length);
  for (let i = 0; i < views; i++) {
    const focal = f(f(f(intrinsics[i * 9]) + f(intrinsics[i * 9 + 4])) / 2);
    const s = f(focal / scaleFactor);
    for (let p = 0; p < hw; p++) out[i * hw + p] = f(depth[i * hw + p] * s);
  }
  return out;
}
