/**
 * SegDataPreProcessor with a test size_divisor (the cityscapes *_ms configs): the official
 * preprocessor pads the normalised batch with zeros to the divisor, so `data_preprocessor.inputs`
 * is the padded batch; the model then runs on it and postprocess crops the padding off.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { dataPreprocess } from '../../src/semseg/encoder_decoder';
import { loadSegWeightsFile } from '../../src/node/seg_weights';
import { FIXTURES, useBackend } from '../helpers';

describe.each(['cpu', 'wasm'] as const)('seg data preprocessor padding (%s)', (backend) => {
  beforeAll(() => useBackend(backend));

  test('pads to the size divisor after normalising; the tap sees the padded batch; no tensor left', async () => {
    const dir = path.join(FIXTURES, 'seg', 'seg-tiny');
    const { config } = await loadSegWeightsFile(path.join(dir, 'weights.safetensors'), { config: path.join(dir, 'config.json') });
    const cfg = { ...config, preprocess: { ...config.preprocess, sizeDivisor: 14 } };
    const [H, W] = [98, 131];
    const pixels = Float32Array.from({ length: H * W * 3 }, (_, i) => (i * 37) % 256);
    const before = tf.memory().numTensors;
    const taps = new Map<string, { shape: number[]; data: Float32Array }>();
    const out = tf.tidy(() => {
      const bgr = tf.tensor4d(pixels, [1, H, W, 3]);
      const r = dataPreprocess(bgr, cfg, (k, t) => taps.set(k, { shape: t.shape, data: t.dataSync() as Float32Array }));
      return { padBottom: r.padBottom, padRight: r.padRight, shape: r.inputs.shape, data: r.inputs.dataSync() as Float32Array };
    });
    expect(tf.memory().numTensors).toBe(before);
    expect([out.padBottom, out.padRight]).toEqual([0, 9]);
    expect(out.shape).toEqual([1, 98, 140, 3]);
    const tap = taps.get('data_preprocessor.inputs')!;
    expect(tap.shape).toEqual([1, 98, 140, 3]);
    // Inside: (x[c'] - mean) / std with the BGR -> RGB flip; the 9 padded columns are 0.
    const p = cfg.preprocess;
    const src = (y: number, x: number, c: number) => pixels[(y * W + x) * 3 + (p.bgrToRgb ? 2 - c : c)];
    for (const [y, x] of [[0, 0], [50, 77], [97, 130]]) {
      for (let c = 0; c < 3; c++) expect(out.data[(y * 140 + x) * 3 + c]).toBeCloseTo((src(y, x, c) - p.mean[c]) / p.std[c], 4);
    }
    for (let y = 0; y < H; y++) for (let x = W; x < 140; x++) for (let c = 0; c < 3; c++) expect(out.data[(y * 140 + x) * 3 + c]).toBe(0);
    expect(tap.data).toEqual(out.data);
  });

  test('without a size divisor nothing is padded', async () => {
    const dir = path.join(FIXTURES, 'seg', 'seg-tiny');
    const { config } = await loadSegWeightsFile(path.join(dir, 'weights.safetensors'), { config: path.join(dir, 'config.json') });
    const cfg = { ...config, preprocess: { ...config.preprocess, sizeDivisor: undefined } };
    const r = tf.tidy(() => {
      const d = dataPreprocess(tf.zeros([1, 98, 131, 3]) as tf.Tensor4D, cfg);
      return { shape: d.inputs.shape, pads: [d.padBottom, d.padRight] };
    });
    expect(r).toEqual({ shape: [1, 98, 131, 3], pads: [0, 0] });
  });
});
