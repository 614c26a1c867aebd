import * as path from 'path';
import { ParsedSafetensors } from '../../src/io/safetensors';
import { decodeImage } from '../../src/node/image';
import { da3Preprocess, Da3ProcessResMethod } from '../../src/pipeline/da3/preprocess';
import { compareWithReference } from '../../src/verify/compare';
import { da3PipelineTensors } from '../../src/verify/da3_pipeline';
import { DA3_IO_CASES, countDiff, f32, loadDa3Case } from './da3_fixtures';

describe('da3PipelineTensors: every recorded pipeline key, from the PNGs and the recorded net outputs', () => {
  test.each(DA3_IO_CASES)('%s', async (name) => {
    const c = loadDa3Case(name);
    const images = await Promise.all(c.config.inference.images.map((f) => decodeImage(path.join(c.dir, f))));
    const pre = da3Preprocess(images, { processRes: c.config.inference.process_res, processResMethod: c.config.inference.process_res_method as Da3ProcessResMethod });
    const has = (k: string) => c.acts.has(k);
    const opt = (k: string) => (has(k) ? f32(c.acts, k) : null);
    const mono = has('model.sky');
    const out = da3PipelineTensors({
      pre,
      net: { depth: f32(c.acts, mono ? 'model.head.depth' : 'model.depth'), depthConf: opt('model.depth_conf'), extrinsics: opt('model.extrinsics'), intrinsics: opt('model.intrinsics'), sky: opt('model.sky') },
      metricK: opt('metric.intrinsics') ?? undefined,
      exportGlb: c.exp !== null,
    });
    const refs = new Map([...c.acts, ...(c.exp ?? new Map())]);
    const reference: ParsedSafetensors = { source: name, metadata: {}, tensors: refs };
    const { comparisons } = compareWithReference(out.float, reference, []);
    expect(comparisons.filter((r) => !r.ok)).toEqual([]);
    const compared = comparisons.map((r) => r.key).sort();
    const expected = ['input', 'prediction.depth', ...(mono
      ? ['metric.depth', 'model.set_sky_regions_to_max_depth.args.max_depth']
      : ['prediction.conf', 'prediction.extrinsics', 'prediction.intrinsics', 'glb.conf_thresh', 'glb.points_world', 'glb.alignment', 'glb.points', 'glb.camera_frustum_lines'])];
    expect(compared).toEqual(expected.sort());
    const exactKeys = [...out.exact.keys()].sort();
    expect(exactKeys).toEqual((mono ? ['model.compute_sky_mask', 'prediction.processed_images', 'prediction.sky'] : ['glb.colors', 'glb.colors_world', 'prediction.processed_images']).sort());
    for (const [key, t] of out.exact) {
      const ref = refs.get(key)!;
      expect(ref.shape).toEqual(t.shape);
      expect(countDiff(t.data, ref.bytes)).toBe(0);
    }
  });
});
