import { promises as fs } from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { decodeImage } from '../../src/node/image';
import { preprocess, targetSize, toInputTensor, toNchw, PreprocessError, MAX_PATCHES } from '../../src/pipeline/preprocess';
import { cubicTaps, cubicWeights } from '../../src/pipeline/resize_cubic';
import { parseSafetensors, entryToFloat32 } from '../../src/io/safetensors';
import { PREPROCESS_CASES } from '../fixture_cases';

const FIXTURES = path.resolve(__dirname, '../../../shared/fixtures');
const CASES = [...PREPROCESS_CASES];

async function loadCase(name: string) {
  const dir = path.join(FIXTURES, 'preprocess', name);
  const cfg = JSON.parse(await fs.readFile(path.join(dir, 'case.json'), 'utf8')) as { input_size: number };
  const st = parseSafetensors(await fs.readFile(path.join(dir, 'expected.safetensors')), name);
  const rgb = st.tensors.get('rgb')!;
  const input = st.tensors.get('input')!;
  const file = path.join(dir, (await fs.readdir(dir)).find((f) => f.startsWith('image.'))!);
  return { cfg, rgb, input, expected: entryToFloat32(input), file };
}

/** Max |a - b| (no `Math.*` in the loop: global lookups are slow inside jest's vm). */
function maxAbs(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
    if (d > m || d !== d) m = d !== d ? Infinity : d;
  }
  return m;
}

describe('preprocess reproduces the official image2tensor', () => {
  test.each(CASES)('%s: from the fixture rgb, and from the image file', async (name) => {
    const c = await loadCase(name);
    const fromRgb = preprocess({ data: c.rgb.bytes, width: c.rgb.shape[1], height: c.rgb.shape[0] }, { inputSize: c.cfg.input_size });
    expect([1, 3, fromRgb.height, fromRgb.width]).toEqual(c.input.shape);
    expect(maxAbs(toNchw(fromRgb), c.expected)).toBeLessThanOrEqual(1e-4);
    const fromFile = preprocess(await decodeImage(c.file), { inputSize: c.cfg.input_size });
    expect(maxAbs(toNchw(fromFile), c.expected)).toBeLessThanOrEqual(1e-4);
    expect([fromFile.srcWidth, fromFile.srcHeight]).toEqual([c.rgb.shape[1], c.rgb.shape[0]]);
  });

  test('the tensor is NHWC [1, H, W, 3] with the same values, and owned by the caller', async () => {
    const c = await loadCase('tiny');
    const p = preprocess({ data: c.rgb.bytes, width: 37, height: 23 });
    const before = tf.memory().numTensors;
    const t = toInputTensor(p);
    expect(t.shape).toEqual([1, 518, 840, 3]);
    const nhwc = t.dataSync() as Float32Array;
    expect(Buffer.compare(Buffer.from(nhwc.buffer), Buffer.from(p.data.buffer))).toBe(0);
    const hw = 518 * 840;
    for (const [y, x, ch] of [[0, 0, 0], [17, 400, 1], [517, 839, 2]]) {
      expect(Math.abs(nhwc[(y * 840 + x) * 3 + ch] - c.expected[ch * hw + y * 840 + x])).toBeLessThanOrEqual(1e-4);
    }
    t.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('targetSize (Resize: keep aspect, lower bound, multiple of 14)', () => {
  test('the fixtures sizes', () => {
    expect(targetSize(37, 23, 518)).toEqual({ width: 840, height: 518 });
    expect(targetSize(640, 425, 518)).toEqual({ width: 784, height: 518 });
    expect(targetSize(1041, 1600, 518)).toEqual({ width: 518, height: 798 });
    expect(targetSize(1978, 1287, 700)).toEqual({ width: 1078, height: 700 });
  });
  test('halves round to even, as np.round', () => {
    // At input size 14 a 14-high image keeps its width: 21 = 1.5 patches -> 2, 35 = 2.5 -> 2, 49 = 3.5 -> 4.
    expect(targetSize(21, 14, 14)).toEqual({ width: 28, height: 14 });
    expect(targetSize(35, 14, 14)).toEqual({ width: 28, height: 14 });
    expect(targetSize(49, 14, 14)).toEqual({ width: 56, height: 14 });
    // 31 wide at input 28: 2.2 patches -> 2.
    expect(targetSize(31, 28, 28)).toEqual({ width: 28, height: 28 });
  });
  test('input sizes that are not a positive multiple of 14 are refused', () => {
    expect(() => targetSize(100, 100, 500)).toThrow('input size must be a positive multiple of 14 (e.g. 518), got 500');
    expect(() => targetSize(100, 100, 0)).toThrow(PreprocessError);
  });
});

describe('extreme images', () => {
  test('a 1x1 image becomes a 518x518 input of one colour', () => {
    const p = preprocess({ data: Uint8Array.from([255, 128, 0]), width: 1, height: 1 });
    expect([p.width, p.height]).toEqual([518, 518]);
    const r = (1 - 0.485) / 0.229, g = (128 / 255 - 0.456) / 0.224, b = (0 - 0.406) / 0.225;
    for (const i of [0, 518 * 3 * 200 + 300 * 3, p.data.length - 3]) {
      expect(p.data[i]).toBeCloseTo(r, 5);
      expect(p.data[i + 1]).toBeCloseTo(g, 5);
      expect(p.data[i + 2]).toBeCloseTo(b, 5);
    }
  });
  test('a 1-pixel-high strip is refused with the size it would need', () => {
    expect(() => preprocess({ data: new Uint8Array(4000 * 3), width: 4000, height: 1 }))
      .toThrow(`a 4000x1 image at input size 518 needs a 2072000x518 network input (${(2072000 / 14) * 37} patches), above the limit of ${MAX_PATCHES}`);
  });
});

describe('OpenCV cubic taps', () => {
  test('weights are OpenCV interpolateCubic in float32 and sum to 1', () => {
    expect(cubicWeights(0)).toEqual([0, 1, 0, 0]);
    const w = cubicWeights(Math.fround(0.25));
    expect(w.every((v) => v === Math.fround(v))).toBe(true);
    expect(w[0] + w[1] + w[2] + w[3]).toBeCloseTo(1, 7);
    // Keys' kernel (A = -0.75) at distances 1.25, 0.25, 0.75, 1.75, all exact in float32.
    const keys = (t: number) => (t <= 1 ? 1.25 * t ** 3 - 2.25 * t ** 2 + 1 : -0.75 * t ** 3 + 3.75 * t ** 2 - 6 * t + 3);
    expect(w).toEqual([keys(1.25), keys(0.25), keys(0.75), keys(1.75)]);
    expect(w).toEqual([-0.10546875, 0.87890625, 0.26171875, -0.03515625]);
  });
  test('source coordinates are rounded to float32 before the weights (the trap)', () => {
    // 37 -> 840: (o + 0.5) * 37/840 - 0.5 in float64 differs from its float32 rounding.
    const t = cubicTaps(37, 840);
    const o = 101;
    const fx64 = (o + 0.5) * (37 / 840) - 0.5;
    const fx32 = Math.fround((o + 0.5) * (1 / (840 / 37)) - 0.5);
    expect(fx32).not.toBe(fx64);
    const expected = cubicWeights(Math.fround(fx32 - Math.floor(fx32)));
    expect(Array.from(t.weight.subarray(o * 4, o * 4 + 4))).toEqual(expected);
    expect(Array.from(t.index.subarray(o * 4, o * 4 + 4))).toEqual([Math.floor(fx32) - 1, Math.floor(fx32), Math.floor(fx32) + 1, Math.floor(fx32) + 2]);
  });
  test('border taps are clamped', () => {
    const t = cubicTaps(4, 9);
    expect(Array.from(t.index.subarray(0, 4))).toEqual([0, 0, 0, 1]);
    expect(Array.from(t.index.subarray(8 * 4, 9 * 4))).toEqual([2, 3, 3, 3]);
  });
});
