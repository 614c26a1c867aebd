/**
 * V1 metric (ZoeDepth) models through the library: predict (DepthModel.infer and evaluate.py's
 * way) against the official pipeline values, batch 2, encode, configuration, loading errors.
 */
import { copyFileSync, mkdtempSync, readFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { VARIANTS, configFromJson, configToJson } from '../../src/config/depth';
import { bindWeights, disposeWeights } from '../../src/depth/depth_anything';
import { entryToFloat32, parseSafetensors, ParsedSafetensors } from '../../src/io/safetensors';
import { DepthAnything } from '../../src/node/depth_anything';
import { resizeBilinearAlignCorners } from '../../src/pipeline/postprocess';
import { loadWeightsFile } from '../../src/node/weights_file';
import { prepSize, zoeDepth } from '../../src/depth/zoedepth';
import { evalInferZoe, imageToTensor, padAmount } from '../../src/pipeline/zoe_infer';
import { decodeImage } from '../../src/node/image';
import { caseDir, expectParity, useBackend } from '../helpers';
import { writeFileSync } from 'fs';
import { encodeNpy } from '../../src/io/npy';
import { evaluateSample } from '../../src/node/eval/run';
import { computeMetrics } from '../../src/eval/metrics';

const INDOOR = caseDir('v1-metric-indoor-tiny');
const NORMED = caseDir('v1-metric-normed-tiny');
const readJson = (f: string): unknown => JSON.parse(readFileSync(f, 'utf8'));
const ref = (file: string): ParsedSafetensors => parseSafetensors(readFileSync(file), file);
/** A [1, 1, H, W] reference as [H, W] data. */
const refData = (r: ParsedSafetensors, key: string): Float32Array => entryToFloat32(r.tensors.get(key)!);
const close = (ours: Float32Array, theirs: Float32Array, shape: number[], what: string) => expectParity(tf.tensor(ours, shape), tf.tensor(theirs, shape), what);

beforeAll(async () => {
  await useBackend('wasm');
});

describe('DepthAnything with a V1 metric model', () => {
  let model: DepthAnything;
  const infer = ref(path.join(INDOOR, 'infer.safetensors'));
  beforeAll(async () => {
    model = await DepthAnything.load(path.join(INDOOR, 'weights.pt'), { config: path.join(INDOOR, 'config.json') });
  });
  afterAll(() => model.dispose());

  test('predict = DepthModel.infer (padding + flip) on image.png, metres at the image size, no leak', async () => {
    const before = tf.memory().numTensors;
    const depth = await model.predict(path.join(INDOOR, 'image.png'));
    expect(tf.memory().numTensors).toBe(before);
    expect(model.metric).toBe(true);
    expect([depth.width, depth.height, depth.metric]).toEqual([160, 120, true]);
    tf.tidy(() => close(depth.data, refData(infer, 'infer'), [120, 160], 'infer'));
  });

  test('padInput false = infer_no_pad; flip false differs from both', async () => {
    const noPad = await model.predict(path.join(INDOOR, 'image.png'), { padInput: false });
    tf.tidy(() => close(noPad.data, refData(infer, 'infer_no_pad'), [120, 160], 'infer_no_pad'));
    const plain = await model.predict(path.join(INDOOR, 'image.png'), { padInput: false, flip: false });
    const d = plain.data.reduce((a, v, i) => Math.max(a, Math.abs(v - noPad.data[i])), 0);
    expect(d).toBeGreaterThan(1e-4);
  });

  test('evaluation = evaluate.py (flip at img_size) resized bilinear align_corners to the image', async () => {
    // The case's keep-aspect size equals img_size (84 x 112), so evaluation mode runs the recorded `flip`.
    const depth = await model.predict(path.join(INDOOR, 'image.png'), { evaluation: true });
    const expected = resizeBilinearAlignCorners(refData(infer, 'flip'), 84, 112, 120, 160);
    tf.tidy(() => close(depth.data, expected, [120, 160], 'evaluation'));
  });

  test('eval scores evaluate.py\'s prediction (flip, img_size, bilinear to the ground truth) with compute_metrics', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'zoe-eval-'));
    const gt = Float32Array.from({ length: 120 * 160 }, (_, i) => 0.5 + (i % 97) / 20);
    writeFileSync(path.join(dir, 'gt.npy'), encodeNpy(gt, [120, 160]));
    const r = await evaluateSample(model, { name: 'image', image: path.join(INDOOR, 'image.png'), depth: path.join(dir, 'gt.npy') },
      { protocol: 'metric', minDepth: 1e-3, maxDepth: 10, crop: 'none', depthScale: 1000, kbCrop: false, inputSize: 518, minValidPixels: 10 });
    const pred = resizeBilinearAlignCorners(refData(infer, 'flip'), 84, 112, 120, 160).map((p) => Math.min(Math.max(p, 1e-3), 10));
    const want = computeMetrics(pred, gt);
    expect(r.status).toBe('ok');
    for (const k of Object.keys(want) as (keyof typeof want)[]) expect(r.metrics![k]).toBeCloseTo(want[k], 5);
  });

  test('the image as the official ToTensor: pixels / 255 = the recorded input', async () => {
    const img = await decodeImage(path.join(INDOOR, 'image.png'));
    tf.tidy(() => {
      const x = tf.transpose(imageToTensor(img), [0, 3, 1, 2]);
      expect(Array.from(x.dataSync())).toEqual(Array.from(refData(infer, 'image')));
    });
  });

  test('encode keeps working (the four DPT features of the core)', async () => {
    const before = tf.memory().numTensors;
    const enc = await model.encode(path.join(INDOOR, 'image.png'));
    expect(enc.features).toHaveLength(4);
    expect(enc.features[0].patch.shape[3]).toBe(32);
    enc.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

test('batch 2: each image of a batch as when alone (forward and evaluate.py flip)', async () => {
  const cfg = configFromJson(readJson(path.join(NORMED, 'config.json')));
  const w = bindWeights((await loadWeightsFile(path.join(NORMED, 'weights.pt'), { config: cfg })).stateDict, cfg, 'normed');
  const act = ref(path.join(NORMED, 'activations.safetensors'));
  try {
    tf.tidy(() => {
      const e = act.tensors.get('image')!;
      const img = tf.transpose(tf.tensor4d(entryToFloat32(e), e.shape as [number, number, number, number]), [0, 2, 3, 1]) as tf.Tensor4D;
      const other = tf.reverse(tf.mul(img, 0.8), 1) as tf.Tensor4D;
      const batch = tf.concat([img, other]) as tf.Tensor4D;
      const both = zoeDepth(w, cfg, batch);
      expectParity(tf.slice(both, [0], [1]), tf.transpose(tf.tensor(refData(act, 'metric_depth'), act.tensors.get('metric_depth')!.shape), [0, 2, 3, 1]), 'batch item 0');
      expectParity(tf.slice(both, [1], [1]), zoeDepth(w, cfg, other), 'batch item 1');
      const flips = evalInferZoe(w, cfg, batch);
      expectParity(tf.slice(flips, [1], [1]), evalInferZoe(w, cfg, other), 'flip batch item 1');
    });
  } finally {
    disposeWeights(w);
  }
});

describe('configuration', () => {
  test('the fixtures\' "zoe" block round-trips', () => {
    for (const dir of [INDOOR, NORMED]) {
      const cfg = configFromJson(readJson(path.join(dir, 'config.json')));
      expect(cfg.zoe).toBeDefined();
      expect(configFromJson(configToJson(cfg))).toEqual(cfg);
    }
    expect(configFromJson(readJson(path.join(NORMED, 'config.json'))).zoe).toMatchObject({ binCentersType: 'normed', maxDepth: 80, imgSize: [56, 168], keepAspectRatio: false });
  });

  test('v1-metric-indoor / -outdoor: config_zoedepth.json on the V1 ViT-L DPT', () => {
    for (const [name, max] of [['v1-metric-indoor', 10], ['v1-metric-outdoor', 80]] as const) {
      const v = VARIANTS[name];
      expect(v).toMatchObject({ version: 'v1', encoder: 'vitl', embedDim: 1024, depth: 24, features: 256, outChannels: [256, 512, 1024, 1024] });
      expect(v.zoe).toEqual({
        nBins: 64, binEmbeddingDim: 128, binCentersType: 'softplus', nAttractors: [16, 8, 4, 1], attractorAlpha: 1000, attractorGamma: 2,
        attractorKind: 'mean', attractorType: 'inv', minTemp: 0.0212, maxTemp: 50, minDepth: 0.001, maxDepth: max, imgSize: [392, 518],
        keepAspectRatio: true, inverseMidas: false,
      });
      expect('maxDepth' in v).toBe(false);
    }
  });

  test('bad "zoe" values are named', () => {
    const base = readJson(path.join(INDOOR, 'config.json')) as Record<string, unknown>;
    const bad = (zoe: object) => () => configFromJson({ ...base, zoe: { ...(base.zoe as object), ...zoe } }, 'c.json');
    expect(bad({ bin_centers_type: 'linear' })).toThrow('c.json: "zoe.bin_centers_type" must be one of normed, softplus, hybrid1, hybrid2, got "linear"');
    expect(bad({ attractor_kind: 'max' })).toThrow('"zoe.attractor_kind"');
    expect(bad({ n_attractors: [16, 8] })).toThrow('"zoe.n_attractors" must list 4');
    expect(bad({ img_size: [84] })).toThrow('"zoe.img_size"');
    expect(() => configFromJson({ ...base, max_depth: 20 }, 'c.json')).toThrow('exclude each other');
  });

  test('the core\'s resize ("minimal", multiple of 14, numpy rounding) and the padding', () => {
    expect(prepSize(480, 640, [392, 518], true)).toEqual([392, 518]); // NYUv2
    expect(prepSize(375, 1242, [392, 518], true)).toEqual([392, 1302]); // KITTI, inference mode
    expect(prepSize(352, 1216, [392, 518], false)).toEqual([392, 518]); // evaluation mode
    expect(prepSize(35, 35, [35, 35], false)).toEqual([28, 28]); // 2.5 rounds to even
    expect(prepSize(49, 49, [49, 49], false)).toEqual([56, 56]); // 3.5 rounds to even
    expect(() => prepSize(4, 4, [4, 4], false)).toThrow('too small');
    expect([padAmount(120), padAmount(160), padAmount(480), padAmount(640)]).toEqual([23, 26, 46, 53]);
  });
});

describe('loading errors: one line naming the file', () => {
  const oneLine = async (f: () => Promise<unknown>): Promise<string> => {
    let message = '';
    try {
      await f();
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).not.toBe('');
    expect(message).not.toContain('\n');
    return message;
  };

  test('a relative V1 checkpoint passed as a metric one', async () => {
    const file = path.join(caseDir('v1-tiny'), 'weights.safetensors');
    const msg = await oneLine(() => DepthAnything.load(file, { config: path.join(INDOOR, 'config.json') }));
    expect(msg).toContain(file);
    expect(msg).toContain('a relative Depth Anything checkpoint');
  });

  test('a metric file with a relative configuration', async () => {
    const file = path.join(INDOOR, 'weights.pt');
    const msg = await oneLine(() => DepthAnything.load(file, { config: path.join(caseDir('v1-tiny'), 'config.json') }));
    expect(msg).toContain(file);
    expect(msg).toContain('a V1 metric (ZoeDepth) checkpoint');
    expect(await oneLine(() => DepthAnything.load(file, { config: 'v2-vitl' }))).toContain('use v1-metric-indoor or v1-metric-outdoor');
  });

  test('an outdoor release file with the indoor model', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'zoe-'));
    const file = path.join(dir, 'depth_anything_metric_depth_outdoor.pt');
    copyFileSync(path.join(INDOOR, 'weights.pt'), file);
    const msg = await oneLine(() => DepthAnything.load(file, { config: 'v1-metric-indoor' }));
    expect(msg).toContain(file);
    expect(msg).toContain('the file name says v1-metric-outdoor');
  });

  test('a metric file with no release name and no configuration', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'zoe-'));
    const file = path.join(dir, 'model.pt');
    copyFileSync(path.join(INDOOR, 'weights.pt'), file);
    expect(await oneLine(() => DepthAnything.load(file))).toContain('pass --config v1-metric-indoor or --config v1-metric-outdoor');
  });

  test('a missing or misshapen head tensor', async () => {
    const cfg = configFromJson(readJson(path.join(INDOOR, 'config.json')));
    const { stateDict } = await loadWeightsFile(path.join(INDOOR, 'weights.pt'), { config: cfg });
    const before = tf.memory().numTensors;
    const missing = new Map(stateDict);
    missing.delete('attractors.2._net.0.bias');
    const m1 = await oneLine(async () => DepthAnything.load({ stateDict: missing, config: cfg, source: 'zoe.pt' }));
    expect(m1).toBe('zoe.pt: weights do not match the model configuration: missing key attractors.2._net.0.bias (expected [128])');
    const misshapen = new Map(stateDict);
    misshapen.set('seed_projector._net.2.weight', { shape: [64, 128, 1, 1], data: new Float32Array(64 * 128) });
    const m2 = await oneLine(async () => DepthAnything.load({ stateDict: misshapen, config: cfg, source: 'zoe.pt' }));
    expect(m2).toBe('zoe.pt: weights do not match the model configuration: key with the wrong shape: seed_projector._net.2.weight: [64, 128, 1, 1], expected [128, 128, 1, 1]');
    const km1 = new Map(stateDict);
    km1.set('conditional_log_binomial.log_binomial_transform.K_minus_1', { shape: [1, 1, 1, 1], data: Float32Array.of(255) });
    expect(await oneLine(async () => DepthAnything.load({ stateDict: km1, config: cfg, source: 'zoe.pt' }))).toContain('K_minus_1 is 255, expected n_bins - 1 = 63');
    expect(tf.memory().numTensors).toBe(before);
  });
});
