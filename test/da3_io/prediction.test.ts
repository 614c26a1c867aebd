import * as path from 'path';
import { decodeImage } from '../../src/node/image';
import { da3Prediction, da3Run } from '../../src/pipeline/da3/prediction';
import { da3Preprocess, Da3ProcessResMethod } from '../../src/pipeline/da3/preprocess';
import { compareArrays, PARITY_TOLERANCE } from '../../src/verify/compare';
import { DA3_IO_CASES, countDiff, f32, loadDa3Case, u8 } from './da3_fixtures';

describe('da3Prediction: from the recorded net outputs to prediction.*', () => {
  test.each(DA3_IO_CASES)('%s', async (name) => {
    const c = loadDa3Case(name);
    const images = await Promise.all(c.config.inference.images.map((f) => decodeImage(path.join(c.dir, f))));
    const pre = da3Preprocess(images, { processRes: c.config.inference.process_res, processResMethod: c.config.inference.process_res_method as Da3ProcessResMethod });
    const has = (k: string) => c.acts.has(k);
    const out = da3Prediction({
      // mono: the head's depth before the sky fill, to check the fill here too
      depth: f32(c.acts, has('model.sky') ? 'model.head.depth' : 'model.depth'),
      depthConf: has('model.depth_conf') ? f32(c.acts, 'model.depth_conf') : null,
      extrinsics: has('model.extrinsics') ? f32(c.acts, 'model.extrinsics') : null,
      intrinsics: has('model.intrinsics') ? f32(c.acts, 'model.intrinsics') : null,
      sky: has('model.sky') ? f32(c.acts, 'model.sky') : null,
    }, pre);
    const same = (ours: Float32Array | null, key: string) => {
      expect(ours).not.toBeNull();
      expect(compareArrays(ours!, f32(c.acts, key)).relL2).toBeLessThanOrEqual(PARITY_TOLERANCE.relL2);
    };
    same(out.depth, 'prediction.depth');
    if (has('prediction.conf')) same(out.conf, 'prediction.conf'); else expect(out.conf).toBeNull();
    if (has('prediction.extrinsics')) { same(out.extrinsics, 'prediction.extrinsics'); same(out.intrinsics, 'prediction.intrinsics'); }
    if (has('prediction.sky')) expect(countDiff(out.sky!, u8(c.acts, 'prediction.sky'))).toBe(0); else expect(out.sky).toBeNull();
    expect(countDiff(out.processedImages, u8(c.acts, 'prediction.processed_images'))).toBe(0);
    expect(out.cameraScale).toBeNull();
  });
});

describe('da3Run: preprocessed views -> net -> prediction', () => {
  const img = { data: new Uint8Array(56 * 42 * 3).fill(120), width: 56, height: 42 };
  const I4 = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
  const K = [[40, 0, 28], [0, 40, 21], [0, 0, 1]];
  test('the net gets the normalised extrinsics and processed intrinsics; prediction takes the given cameras', async () => {
    const ext = [I4, [[1, 0, 0, 2], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], [[1, 0, 0, 0], [0, 1, 0, 3], [0, 0, 1, 0], [0, 0, 0, 1]]];
    const pre = da3Preprocess([img, img, img], { processRes: 56, processResMethod: 'upper_bound_resize' }, { extrinsics: ext, intrinsics: [K, K, K] });
    let seen: Float32Array | null = null;
    const hw = pre.height * pre.width;
    const out = await da3Run(pre, async (x) => {
      seen = x.extrinsics;
      expect(x.intrinsics).toBe(pre.intrinsics);
      // Predicted cameras: the given ones at twice the scale.
      const e = new Float32Array(36);
      ext.forEach((m, v) => m.slice(0, 3).flat().forEach((val, i) => { e[v * 12 + i] = i % 4 === 3 ? 2 * val : val; }));
      return { depth: new Float32Array(3 * hw).fill(4), depthConf: new Float32Array(3 * hw).fill(2), extrinsics: e, intrinsics: new Float32Array(27) };
    });
    // Normalised: translations over the lower median distance (2): 0, 1, 1.5.
    expect([seen![3], seen![16 + 3], seen![32 + 7]]).toEqual([0, 1, 1.5]);
    expect(out.cameraScale).toBeCloseTo(2, 6);
    expect(out.depth[0]).toBeCloseTo(2, 6);
    expect(Array.from(out.intrinsics!)).toEqual(Array.from(pre.intrinsics!));
    expect(out.extrinsics![12 + 3]).toBe(2);
  });
  test('known cameras with a mono / metric net are refused before it runs', async () => {
    const pre = da3Preprocess([img], { processRes: 56, processResMethod: 'upper_bound_resize' }, { extrinsics: [I4], intrinsics: [K] });
    const run = jest.fn();
    await expect(da3Run(pre, run, { hasCameraEncoder: false })).rejects.toThrow(/known cameras need an any-view model/);
    expect(run).not.toHaveBeenCalled();
  });
});
