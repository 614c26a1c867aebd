/**
 * Long runs: predicting over many images must not accumulate tensors or memory. A tiny random
 * model (the v2-tiny fixture, loaded from its .pth) on wasm, over generated images of a few
 * sizes: tf.memory().numTensors is the same after every call, and the process's resident memory
 * (after a full GC) at the last image is within 8 MB of what it was once every size had been seen.
 *
 *   LONG_RUN_N=500 npx jest test/pipeline/long_run   # longer, on demand (default 60 images)
 */
import * as path from 'path';
import * as v8 from 'v8';
import * as vm from 'vm';
import * as tf from '@tensorflow/tfjs-core';
import { DepthAnything } from '../../src/node/depth_anything';
import { RgbImage } from '../../src/node/image';
import { wholeNumberFromEnv } from '../env';

const TINY = path.resolve(__dirname, '../../../shared/fixtures/parity/v2-tiny');
const SIZES: Array<[number, number]> = [[64, 48], [37, 23], [90, 120], [128, 96], [50, 50]];
/** Images before the first resident-memory reading: two of each size. */
const WARM_UP = 2 * SIZES.length;
/** At least one image past the warm-up, or there is nothing to compare the reading with. */
const N = wholeNumberFromEnv('LONG_RUN_N', 60, WARM_UP + 1, `the number of images; the first ${WARM_UP} warm up`);
/** Resident memory may grow by at most this much between the warm-up and the last image. */
const RSS_MARGIN_MB = 8;

/** A deterministic image with some structure, different for every index. */
function image(i: number): RgbImage {
  const [width, height] = SIZES[i % SIZES.length];
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      data[o] = (x * 7 + i * 13) & 255;
      data[o + 1] = (y * 5 + i * 29) & 255;
      data[o + 2] = ((x ^ y) * 3 + i) & 255;
    }
  }
  return { width, height, data };
}

/**
 * Resident memory after a full garbage collection: without one, V8 grows its heap lazily and
 * RSS creeps up by tens of MB over 1000 images before a major GC, which says nothing about leaks.
 */
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const rssMb = () => { gc(); return process.memoryUsage().rss / 2 ** 20; };

describe('long run (tiny model, wasm)', () => {
  let model: DepthAnything;
  beforeAll(async () => {
    model = await DepthAnything.load(path.join(TINY, 'weights.pth'), { backend: 'wasm', threads: 1, config: path.join(TINY, 'config.json') });
  });
  afterAll(() => model?.dispose());

  it(`predicts ${N} images with flat tensor count and resident memory`, async () => {
    const tensors = tf.memory().numTensors;
    const warmUp = WARM_UP;
    let rssAfterWarmUp = 0;
    const samples: string[] = [];
    const sampleAt = new Set([1, 2, 3, 4].map((q) => Math.ceil((N * q) / 4)));
    let last = 0;
    for (let i = 0; i < N; i++) {
      const depth = await model.predict(image(i), { inputSize: 70 });
      expect(depth.data.length).toBe(depth.width * depth.height);
      if (tf.memory().numTensors !== tensors) throw new Error(`image ${i}: ${tf.memory().numTensors} tensors, ${tensors} before`);
      if (i === warmUp - 1) rssAfterWarmUp = rssMb();
      if (sampleAt.has(i + 1)) {
        last = rssMb();
        samples.push(`${i + 1}: ${last.toFixed(1)}`);
      }
    }
    console.log(`long run: ${N} images, numTensors ${tensors} throughout; RSS after GC ${rssAfterWarmUp.toFixed(1)} MB after ${warmUp} (warm-up), ` +
      `then after image ${samples.join(', ')} MB; JS heap used ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(1)} MB`);
    expect(last - rssAfterWarmUp).toBeLessThan(RSS_MARGIN_MB);
  });
});
