import { cropWindow, evaluateImage, NotEnoughGroundTruth, validMask } from '../../src/eval/protocols';

const NYU = { minDepth: 1e-3, maxDepth: 10, crop: 'eigen' as const };

describe('cropWindow', () => {
  test('Eigen crop: rows 45..470, cols 41..600 of 480x640 (ZoeDepth eval_mask[45:471, 41:601])', () => {
    expect(cropWindow('eigen', 480, 640)).toEqual({ top: 45, bottom: 471, left: 41, right: 601 });
  });

  test('Eigen crop on another size is an error, not a silently wrong window', () => {
    expect(() => cropWindow('eigen', 240, 320)).toThrow('the Eigen crop is defined on 480x640 ground truth (NYUv2); this one is 320x240');
  });

  test('Garg crop as truncated fractions of the size (KITTI raw 375x1242 and KB-cropped 352x1216)', () => {
    // int(0.40810811 * 375) = int(153.04) = 153, int(0.99189189 * 375) = int(371.96) = 371,
    // int(0.03594771 * 1242) = int(44.65) = 44, int(0.96405229 * 1242) = int(1197.35) = 1197
    expect(cropWindow('garg', 375, 1242)).toEqual({ top: 153, bottom: 371, left: 44, right: 1197 });
    // 143.65 -> 143, 349.15 -> 349, 43.71 -> 43, 1172.29 -> 1172
    expect(cropWindow('garg', 352, 1216)).toEqual({ top: 143, bottom: 349, left: 43, right: 1172 });
  });

  test('no crop is the whole map', () => {
    expect(cropWindow('none', 3, 5)).toEqual({ top: 0, bottom: 3, left: 0, right: 5 });
  });
});

describe('validMask', () => {
  test('range bounds are strict; zero, NaN and infinity are invalid', () => {
    const gt = [0, 0.001, 0.0011, 9.99, 10, NaN, Infinity, 5];
    expect(Array.from(validMask(gt, 8, 1, { minDepth: 1e-3, maxDepth: 10, crop: 'none' }))).toEqual([0, 0, 1, 1, 0, 0, 0, 1]);
  });

  test('pixels outside the crop are invalid', () => {
    const gt = new Float32Array(480 * 640).fill(2);
    const mask = validMask(gt, 640, 480, NYU);
    const at = (y: number, x: number) => mask[y * 640 + x];
    expect([at(44, 100), at(45, 100), at(470, 100), at(471, 100)]).toEqual([0, 1, 1, 0]);
    expect([at(200, 40), at(200, 41), at(200, 600), at(200, 601)]).toEqual([0, 1, 1, 0]);
    expect(mask.reduce((s, v) => s + v, 0)).toBe(426 * 560);
  });

  test('a size mismatch is an error', () => {
    expect(() => validMask([1, 2, 3], 2, 2, NYU)).toThrow('ground truth has 3 values for 2x2');
  });
});

describe('evaluateImage', () => {
  test('metric: the crop is honoured (garbage outside it does not count)', () => {
    const gt = new Float32Array(480 * 640);
    const pred = new Float32Array(480 * 640);
    for (let y = 0; y < 480; y++) {
      for (let x = 0; x < 640; x++) {
        const inside = y >= 45 && y < 471 && x >= 41 && x < 601;
        gt[y * 640 + x] = 1 + (x % 7);
        pred[y * 640 + x] = inside ? 1 + (x % 7) : 9;
      }
    }
    const r = evaluateImage(pred, gt, 640, 480, 'metric', NYU);
    expect(r.validPixels).toBe(426 * 560);
    expect(r.metrics.abs_rel).toBe(0);
    expect(r.metrics.delta1).toBe(1);
    // Without the crop the border counts.
    expect(evaluateImage(pred, gt, 640, 480, 'metric', { ...NYU, crop: 'none' }).metrics.abs_rel).toBeGreaterThan(0.1);
  });

  test('metric: predictions are clamped to [min, max] (NaN -> min, inf -> max) as ZoeDepth', () => {
    const rc = { minDepth: 0.5, maxDepth: 10, crop: 'none' as const };
    // 20 -> 10 against 5: |5 - 10| / 5 = 1; Infinity -> 10 against 10? no: gt 10 is out of range, use 8: 2/8
    const r = evaluateImage([20, Infinity, NaN, -3], [5, 8, 1, 1], 4, 1, 'metric', rc);
    // NaN -> 0.5 against 1: 0.5; -3 -> 0.5 against 1: 0.5
    expect(r.metrics.abs_rel).toBeCloseTo((1 + 0.25 + 0.5 + 0.5) / 4, 12);
  });

  test('relative: an affine map of the true disparity is perfect after alignment; the fit is reported', () => {
    const gt = [1, 2, 4, 8, 0, 3];
    const pred = gt.map((d) => (d > 0 ? 5 / d + 0.25 : 99));
    const r = evaluateImage(pred, gt, 3, 2, 'relative', { minDepth: 1e-3, maxDepth: 80, crop: 'none' });
    expect(r.validPixels).toBe(5);
    expect(r.metrics.abs_rel).toBeLessThan(1e-12);
    expect(r.metrics.delta1).toBe(1);
    expect(r.scale).toBeCloseTo(0.2, 12);
    expect(r.shift).toBeCloseTo(-0.05, 12);
  });

  test('relative: out-of-range ground truth is left out of the fit and the metrics', () => {
    // gt 50 is beyond maxDepth 10; its prediction is wildly off and must not matter.
    const r = evaluateImage([2, 1, 0, 1000], [1, 2, 2, 50], 4, 1, 'relative', { minDepth: 1e-3, maxDepth: 10, crop: 'none' });
    expect(r.metrics.abs_rel).toBeCloseTo((1 / 11 + 0.25 + 0.2) / 3, 12);
  });

  test('too few valid pixels is a NotEnoughGroundTruth error', () => {
    const rc = { minDepth: 1e-3, maxDepth: 10, crop: 'none' as const };
    expect(() => evaluateImage([1, 1], [0, 0], 2, 1, 'metric', rc)).toThrow(NotEnoughGroundTruth);
    expect(() => evaluateImage([1, 1], [1, 0], 2, 1, 'metric', rc, 10)).toThrow('only 1 valid ground-truth pixels (in 0.001..10 m, crop none); at least 10 needed');
    expect(() => evaluateImage([1], [1, 1], 2, 1, 'metric', rc)).toThrow('prediction has 1 values, ground truth 2');
  });
});
