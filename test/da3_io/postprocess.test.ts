import { da3ApplyMetricScaling, da3ProcessedImages, da3SkyPostprocess } from '../../src/pipeline/da3/postprocess';
import { numpyMedian, numpyPercentile, torchMedianLower, torchQuantileF32 } from '../../src/pipeline/da3/stats';
import { compareArrays, PARITY_TOLERANCE } from '../../src/verify/compare';
import { DA3_IO_CASES, countDiff, f32, loadDa3Case, u8 } from './da3_fixtures';

describe('prediction.processed_images', () => {
  test.each(DA3_IO_CASES)('%s: the recorded input back to uint8 with the official truncation, exactly', (name) => {
    const c = loadDa3Case(name);
    const [, n, , h, w] = c.acts.get('input')!.shape;
    const out = da3ProcessedImages(f32(c.acts, 'input'), n, h, w);
    expect(countDiff(out, u8(c.acts, 'prediction.processed_images'))).toBe(0);
  });
});

describe('mono sky handling (da3-tiny-mono)', () => {
  const c = loadDa3Case('da3-tiny-mono');
  const res = da3SkyPostprocess(f32(c.acts, 'model.head.depth'), f32(c.acts, 'model.sky'));
  test('non-sky mask and prediction.sky exactly', () => {
    expect(countDiff(res.nonSkyMask, u8(c.acts, 'model.compute_sky_mask'))).toBe(0);
    expect(countDiff(res.skyMask, u8(c.acts, 'prediction.sky'))).toBe(0);
  });
  test('max depth = torch.quantile(non-sky depth, 0.99), sky pixels filled', () => {
    expect(res.maxDepth).toBe(f32(c.acts, 'model.set_sky_regions_to_max_depth.args.max_depth')[0]);
    for (const key of ['model.depth', 'prediction.depth']) {
      const cmp = compareArrays(res.depth, f32(c.acts, key));
      expect(cmp.relL2).toBeLessThanOrEqual(PARITY_TOLERANCE.relL2);
      expect(cmp.maxAbs).toBe(0);
    }
  });
  test('metric.depth = depth * ((fx + fy) / 2) / 300', () => {
    const [, , h, w] = c.acts.get('metric.depth')!.shape;
    const out = da3ApplyMetricScaling(f32(c.acts, 'model.depth'), f32(c.acts, 'metric.intrinsics'), 1, h, w);
    const cmp = compareArrays(out, f32(c.acts, 'metric.depth'));
    expect(cmp.relL2).toBeLessThanOrEqual(PARITY_TOLERANCE.relL2);
    expect(cmp.maxAbs).toBe(0);
  });
  test('no fill with 10 or fewer sky (or non-sky) pixels', () => {
    const depth = Float32Array.from({ length: 40 }, (_, i) => i + 1);
    const sky = new Float32Array(40);
    sky.fill(0.9, 0, 10);
    const r = da3SkyPostprocess(depth, sky);
    expect(r.maxDepth).toBeNull();
    expect(Array.from(r.depth)).toEqual(Array.from(depth));
    sky.fill(0.9, 0, 11);
    expect(da3SkyPostprocess(depth, sky).maxDepth).not.toBeNull();
  });
});

describe('order statistics as torch and numpy compute them', () => {
  test('torch.quantile linear in float32, torch.median lower, numpy percentile and median', () => {
    const v = [5, 1, 4, 2, 3, 10];
    // rank = f32(0.99) * 5 = 4.95 -> 5 + 0.95 * (10 - 5)
    expect(torchQuantileF32(v, 0.99)).toBeCloseTo(9.75, 5);
    expect(torchQuantileF32(v, 0.5)).toBe(3.5);
    expect(torchMedianLower(v)).toBe(3);
    expect(numpyMedian(v)).toBe(3.5);
    expect(numpyPercentile(v, 40, false)).toBeCloseTo(3, 12);
    expect(numpyPercentile(v, 90, false)).toBeCloseTo(7.5, 12);
    expect(numpyPercentile(v, 100, false)).toBe(10);
  });
});
