import { computeMetrics, meanMetrics, METRIC_NAMES } from '../../src/eval/metrics';

describe('computeMetrics (values worked out by hand)', () => {
  test('gt 1 everywhere, pred 1.2 / 1.5 / 1.9 / 2.5: every metric', () => {
    const m = computeMetrics([1.2, 1.5, 1.9, 2.5], [1, 1, 1, 1]);
    // |gt - pred| / gt = 0.2, 0.5, 0.9, 1.5
    expect(m.abs_rel).toBeCloseTo(3.1 / 4, 12);
    // (gt - pred)^2 / gt = 0.04, 0.25, 0.81, 2.25
    expect(m.sq_rel).toBeCloseTo(3.35 / 4, 12);
    expect(m.rmse).toBeCloseTo(Math.sqrt(3.35 / 4), 12);
    const logs = [1.2, 1.5, 1.9, 2.5].map((p) => Math.log(p));
    expect(m.rmse_log).toBeCloseTo(Math.sqrt(logs.reduce((s, l) => s + l * l, 0) / 4), 12);
    expect(m.log10).toBeCloseTo((Math.log10(1.2) + Math.log10(1.5) + Math.log10(1.9) + Math.log10(2.5)) / 4, 12);
    // ratios 1.2 < 1.25; 1.5 < 1.5625; 1.9 < 1.953125; 2.5 above all
    expect([m.delta1, m.delta2, m.delta3]).toEqual([0.25, 0.5, 0.75]);
  });

  test('gt 1 / 2 / 4 against a flat 2: symmetric log errors', () => {
    const m = computeMetrics([2, 2, 2], [1, 2, 4]);
    expect(m.abs_rel).toBeCloseTo((1 + 0 + 0.5) / 3, 12);
    expect(m.sq_rel).toBeCloseTo((1 + 0 + 1) / 3, 12);
    expect(m.rmse).toBeCloseTo(Math.sqrt(5 / 3), 12);
    expect(m.rmse_log).toBeCloseTo(Math.LN2 * Math.sqrt(2 / 3), 12);
    expect(m.log10).toBeCloseTo((2 * Math.log10(2)) / 3, 12);
    expect([m.delta1, m.delta2, m.delta3]).toEqual([1 / 3, 1 / 3, 1 / 3]);
  });

  test('delta thresholds are strict: a ratio of exactly 1.25 is not within delta1', () => {
    const m = computeMetrics([5], [4]);
    expect([m.delta1, m.delta2]).toEqual([0, 1]);
  });

  test('a perfect prediction scores 0 errors and delta 1', () => {
    const m = computeMetrics([0.5, 3, 70], [0.5, 3, 70]);
    for (const k of ['abs_rel', 'sq_rel', 'rmse', 'rmse_log', 'log10'] as const) expect(m[k]).toBe(0);
    expect([m.delta1, m.delta2, m.delta3]).toEqual([1, 1, 1]);
  });

  test('the mask leaves out pixels, whatever their values', () => {
    const masked = computeMetrics([2, 2, -5, 2, NaN], [1, 2, 0, 4, 3], [1, 1, 0, 1, 0]);
    expect(masked).toEqual(computeMetrics([2, 2, 2], [1, 2, 4]));
  });

  test('invalid compared values, no valid pixel, and length mismatches are errors', () => {
    expect(() => computeMetrics([1, 0], [1, 1])).toThrow('pixel 1 compares prediction 0 with ground truth 1; both must be positive and finite');
    expect(() => computeMetrics([1, 1], [1, Infinity])).toThrow('pixel 1');
    expect(() => computeMetrics([1, 1], [1, 1], [0, 0])).toThrow('no valid pixels');
    expect(() => computeMetrics([1], [1, 1])).toThrow('prediction has 1 values, ground truth 2');
    expect(() => computeMetrics([1, 1], [1, 1], [1])).toThrow('mask has 1 values');
  });
});

describe('meanMetrics', () => {
  test('per-image mean, each image weighing the same', () => {
    const a = computeMetrics([2], [1]); // abs_rel 1, delta1 0
    const b = computeMetrics([1, 1, 1], [1, 1, 1]); // abs_rel 0, delta1 1
    const m = meanMetrics([a, b]);
    expect(m.abs_rel).toBe(0.5);
    expect(m.delta1).toBe(0.5);
    expect(Object.keys(m).sort()).toEqual([...METRIC_NAMES].sort());
    expect(() => meanMetrics([])).toThrow('no images to average');
  });
});
