import * as path from 'path';
import { decodeImage } from '../../src/node/image';
import { da3Prediction } from '../../src/pipeline/da3/prediction';
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
