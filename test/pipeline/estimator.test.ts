import { promises as fs } from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { DepthAnything } from '../../src/node/depth_anything';
import { decodeImage } from '../../src/node/image';
import { preprocess, toInputTensor } from '../../src/pipeline/preprocess';
import { bindWeights, disposeWeights, encode as encodeNet, forward } from '../../src/depth/depth_anything';
import { loadWeightsFile } from '../../src/node/weights_file';
import { VARIANTS } from '../../src/config/depth';

const FIXTURES = path.resolve(__dirname, '../../../shared/fixtures');
const TINY = path.join(FIXTURES, 'parity/v2-tiny');
const TINY_METRIC = path.join(FIXTURES, 'parity/v2-tiny-metric');
const IMAGE = path.join(FIXTURES, 'preprocess/tiny/image.png'); // 37 x 23
const SIZE = { inputSize: 56 };

describe('DepthAnything (tiny random model, cpu)', () => {
  let model: DepthAnything;
  let baseline: number;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    baseline = tf.memory().numTensors;
    model = await DepthAnything.load(path.join(TINY, 'weights.safetensors'), { backend: 'cpu', config: path.join(TINY, 'config.json') });
  });
  afterAll(() => {
    model.dispose();
    // dispose() frees every weight tensor.
    expect(tf.memory().numTensors).toBe(baseline);
  });

  test('predict: depth at the image size, relative, same for a path, bytes and pixels; no tensor leaks', async () => {
    const before = tf.memory().numTensors;
    const fromPath = await model.predict(IMAGE, SIZE);
    const fromBytes = await model.predict(await fs.readFile(IMAGE), SIZE);
    const fromRgb = await model.predict(await decodeImage(IMAGE), SIZE);
    expect(tf.memory().numTensors).toBe(before);
    expect([fromPath.width, fromPath.height, fromPath.metric, fromPath.data.length]).toEqual([37, 23, false, 37 * 23]);
    expect(fromBytes.data).toEqual(fromPath.data);
    expect(fromRgb.data).toEqual(fromPath.data);
    expect(fromPath.data.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
    expect(Math.max(...fromPath.data)).toBeGreaterThan(Math.min(...fromPath.data));
  });

  test('predict = the model on our preprocessing, resized back with aligned corners', async () => {
    const img = await decodeImage(IMAGE);
    const input = preprocess(img, SIZE);
    const depth = await model.predict(img, SIZE);
    // The network output's corners are the depth map's corners (align_corners=True).
    const loaded = await loadWeightsFile(path.join(TINY, 'weights.safetensors'), { config: path.join(TINY, 'config.json') });
    const w = bindWeights(loaded.stateDict, model.config, 'tiny');
    const x = toInputTensor(input);
    const net = forward(w, model.config, x);
    const d = net.dataSync();
    const [H, W] = [input.height, input.width];
    expect([d[0], d[W - 1], d[(H - 1) * W], d[H * W - 1]]).toEqual([depth.data[0], depth.data[36], depth.data[22 * 37], depth.data[23 * 37 - 1]]);
    tf.dispose([x, net]);
    disposeWeights(w);
  });

  test('encode: four feature maps [1, h, w, C] + class tokens, owned by the caller', async () => {
    const before = tf.memory().numTensors;
    const enc = await model.encode(IMAGE, SIZE);
    expect([enc.inputWidth, enc.inputHeight, enc.patchW, enc.patchH]).toEqual([84, 56, 6, 4]);
    expect(enc.features.map((f) => [f.patch.shape, f.cls.shape])).toEqual(Array(4).fill([[1, 4, 6, 32], [1, 32]]));
    expect(tf.memory().numTensors).toBe(before + 8);
    // Layout: map[0, y, x, c] is token y * w + x of the encoder's output.
    const x = toInputTensor(preprocess(await decodeImage(IMAGE), SIZE));
    const ref = encodeNet((model as unknown as { weights: never }).weights, model.config, x);
    for (let i = 0; i < 4; i++) {
      expect(enc.features[i].patch.dataSync()).toEqual(ref.layers[i].patch.dataSync());
      expect(enc.features[i].cls.dataSync()).toEqual(ref.layers[i].cls.dataSync());
    }
    tf.dispose([x, ref as unknown as tf.TensorContainer]);
    enc.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  test('bad images fail clearly and leak nothing', async () => {
    const before = tf.memory().numTensors;
    await expect(model.predict(Buffer.from('not an image'))).rejects.toThrow('<buffer>: not a supported image');
    await expect(model.predict({ data: new Uint8Array(3), width: 1, height: 1 }, { inputSize: 50 })).rejects.toThrow('input size must be a positive multiple of 14');
    expect(tf.memory().numTensors).toBe(before);
  });

  test('a 1x1 image gives a 1x1 depth', async () => {
    const d = await model.predict({ data: Uint8Array.from([9, 99, 199]), width: 1, height: 1 }, { inputSize: 14 });
    expect([d.width, d.height, d.data.length]).toEqual([1, 1, 1]);
    expect(Number.isFinite(d.data[0])).toBe(true);
  });
});

describe('DepthAnything.load', () => {
  beforeAll(async () => { await tf.setBackend('cpu'); });

  test('weights in memory with a config; metric models say so', async () => {
    const loaded = await loadWeightsFile(path.join(TINY_METRIC, 'weights.safetensors'), { config: path.join(TINY_METRIC, 'config.json') });
    const model = await DepthAnything.load({ stateDict: loaded.stateDict, config: loaded.config });
    expect(model.metric).toBe(true);
    const d = await model.predict(IMAGE, SIZE);
    expect(d.metric).toBe(true);
    // sigmoid x max_depth: within (0, 20) metres.
    expect(d.data.every((v) => v > 0 && v < 20)).toBe(true);
    model.dispose();
    await expect(model.predict(IMAGE, SIZE)).rejects.toThrow('DepthAnything: this model was disposed');
  });

  test('no configuration: a clear error', async () => {
    const loaded = await loadWeightsFile(path.join(TINY, 'weights.safetensors'), { config: path.join(TINY, 'config.json') });
    await expect(DepthAnything.load({ stateDict: loaded.stateDict, source: 'tiny' })).rejects.toThrow("tiny: no model configuration; pass { config }");
  });

  test('a variant name that does not fit the weights lists the mismatch', async () => {
    const before = tf.memory().numTensors;
    const err = (await DepthAnything.load(path.join(TINY, 'weights.safetensors'), { config: 'v2-vitb' }).catch((e: Error) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(VARIANTS['v2-vitb'].embedDim).toBe(768);
    expect(err.message).toMatch(/does not match the weights: embed_dim: 768 in the configuration, 32 in the tensors/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
