import { alignDisparityToDepth, fitScaleShift } from '../../src/eval/align';
import { computeMetrics } from '../../src/eval/metrics';

describe('fitScaleShift', () => {
  test('recovers an exact affine map, ignoring masked-out pixels', () => {
    const target = [1, 0.5, 0.25, 0.2, 123];
    const pred = target.map((y) => 3 * y + 7);
    pred[4] = -1e6; // masked out: must not move the fit
    const { scale, shift } = fitScaleShift(pred, target, [1, 1, 1, 1, 0]);
    expect(scale).toBeCloseTo(1 / 3, 12);
    expect(shift).toBeCloseTo(-7 / 3, 12);
  });

  test('least squares by hand: pred 2, 1, 0 against disparity 1, 1/2, 1/2 -> s = 1/4, t = 5/12', () => {
    // mean p = 1, mean y = 2/3; sum dp^2 = 2; sum dp*dy = (1)(1/3) + 0 + (-1)(-1/6) = 1/2
    const { scale, shift } = fitScaleShift([2, 1, 0], [1, 0.5, 0.5], [1, 1, 1]);
    expect(scale).toBeCloseTo(0.25, 14);
    expect(shift).toBeCloseTo(5 / 12, 14);
  });

  test('a constant prediction fits as scale 0, shift mean(target)', () => {
    expect(fitScaleShift([3, 3, 3], [1, 0.5, 0.5], [1, 1, 1])).toEqual({ scale: 0, shift: 2 / 3 });
  });

  test('stays exact with a large offset (centred sums)', () => {
    const target = [0.1, 0.2, 0.5, 1];
    const { scale, shift } = fitScaleShift(target.map((y) => 1e7 + 2 * y), target, [1, 1, 1, 1]);
    expect(scale).toBeCloseTo(0.5, 6);
    expect(shift).toBeCloseTo(-5e6, 0);
  });

  test('no valid pixel is an error', () => {
    expect(() => fitScaleShift([1, 2], [1, 2], [0, 0])).toThrow('no valid pixels to align on');
  });
});

describe('alignDisparityToDepth', () => {
  test('an affine transform of the true disparity scores AbsRel 0 and delta1 1', () => {
    const gt = [1, 2, 4, 5, 8, 0.7];
    const pred = gt.map((d) => 0.02 * (1 / d) + 3); // any positive scale, any shift
    const mask = gt.map(() => 1);
    const { depth } = alignDisparityToDepth(pred, gt, mask, 10);
    const m = computeMetrics(depth, gt, mask);
    expect(m.abs_rel).toBeLessThan(1e-12);
    expect(m.rmse).toBeLessThan(1e-12);
    expect(m.delta1).toBe(1);
  });

  test('a perturbed prediction: hand-computed depths and metrics', () => {
    // gt 1, 2, 2 -> disparity 1, 1/2, 1/2; pred 2, 1, 0 -> aligned 11/12, 8/12, 5/12 -> depth 12/11, 3/2, 12/5
    const gt = [1, 2, 2];
    const { depth, scale, shift } = alignDisparityToDepth([2, 1, 0], gt, [1, 1, 1], 10);
    expect(scale).toBeCloseTo(0.25, 14);
    expect(shift).toBeCloseTo(5 / 12, 14);
    expect(Array.from(depth)).toEqual([12 / 11, 1.5, 2.4].map((v, i) => expect.closeTo(v, 12) as unknown as number));
    const m = computeMetrics(depth, gt);
    expect(m.abs_rel).toBeCloseTo((1 / 11 + 0.5 / 2 + 0.4 / 2) / 3, 12);
    // ratios 12/11 = 1.09, 2/1.5 = 1.33, 2.4/2 = 1.2
    expect([m.delta1, m.delta2, m.delta3]).toEqual([2 / 3, 1, 1]);
  });

  test('aligned disparity is clamped at 1 / maxDepth before inverting', () => {
    // Same fit; 5/12 < 1/2 = 1/maxDepth, so that pixel becomes maxDepth = 2 instead of 2.4.
    const { depth } = alignDisparityToDepth([2, 1, 0, -50], [1, 2, 2, 0], [1, 1, 1, 0], 2);
    expect(depth[0]).toBeCloseTo(12 / 11, 12);
    expect(depth[1]).toBeCloseTo(1.5, 12);
    expect(depth[2]).toBe(2);
    expect(depth[3]).toBe(2); // negative aligned disparity (unmasked pixel): capped, not negative depth
  });

  test('bad arguments are errors', () => {
    expect(() => alignDisparityToDepth([1], [1], [1], 0)).toThrow('maxDepth must be positive and finite');
    expect(() => alignDisparityToDepth([1, 2], [1, 0], [1, 1], 10)).toThrow('masked pixel 1 has ground truth 0');
  });
});
