/**
 * The offline window split to fit the backend, forced here by a small budget (the one of
 * src/backends/limits.ts, as test/model/head_bands.test.ts does for the DPT head): the encoder in
 * pieces of frames, the temporal modules in bands of map rows (GroupNorm's per-frame statistics
 * over the whole map first), the tail in pieces of frames. Same depth as one pass, same streaming
 * states and depth with a cache, no tensor left behind.
 */
import * as path from 'path';
import { readFileSync } from 'fs';
import * as tf from '@tensorflow/tfjs-core';
import { bandRows, setBandBudgetForTesting } from '../../src/backends/limits';
import { vdaConfigFromJson } from '../../src/config/vda';
import { loadWeightsFile } from '../../src/node/weights_file';
import { tailTensors } from '../../src/vda/dpt_temporal';
import { temporalBandTensors } from '../../src/vda/motion_module/motion_module';
import { bindVdaWeights, disposeVdaWeights, encoderPieceTensors, vdaDepth, vdaFeatures, vdaForward, VdaWeights } from '../../src/vda/video_depth';
import { FIXTURES, arrayCloseness, useBackend } from '../helpers';

const DIR = path.join(FIXTURES, 'vda', 'vda-tiny');
const cfg = vdaConfigFromJson(JSON.parse(readFileSync(path.join(DIR, 'config.json'), 'utf8')), 'vda-tiny');
/** 2 frames of the encoder's 13 tokens x 32: the encoder in pieces of 2, every temporal band 1 row, the tail 1 frame. */
const BUDGET = 4 * 80 * 2 * 13 * 32;
const T = 5, H = 42, W = 56; // 5 frames: the pieces of 2 end with one of 1

afterEach(() => setBandBudgetForTesting(undefined));

test('the budget splits every stage of the tiny window', () => {
  setBandBudgetForTesting(BUDGET);
  expect(bandRows((n) => encoderPieceTensors(n, 13, 32), 4)).toBe(2);
  // path_3 (6x8, 32 channels) and layer_3 (3x4, 64): one row a band.
  expect(bandRows((r) => temporalBandTensors('m3', 1, T, r, 8, 32, 8), 6)).toBe(1);
  expect(bandRows((r) => temporalBandTensors('m0', 1, T, r, 4, 64, 8), 3)).toBe(1);
  expect(bandRows((n) => tailTensors(n, H, W, 32), 4)).toBe(1);
  setBandBudgetForTesting(undefined);
  expect(bandRows((r) => temporalBandTensors('m3', 1, T, r, 8, 32, 8), 6)).toBe(6);
});

describe.each(['wasm'] as const)('on %s', (backend) => {
  let w: VdaWeights;
  let x: tf.Tensor4D;
  beforeAll(async () => {
    await useBackend(backend);
    w = bindVdaWeights((await loadWeightsFile(path.join(DIR, 'weights.safetensors'))).stateDict, cfg, 'vda-tiny');
    x = tf.randomUniform([T, H, W, 3], -2, 2, 'float32', 5) as tf.Tensor4D;
  });
  afterAll(() => { disposeVdaWeights(w); x.dispose(); });

  const read = (t: tf.Tensor): Float32Array => { const d = t.dataSync() as Float32Array; t.dispose(); return d; };
  const expectSame = (split: Float32Array, whole: Float32Array) => expect(arrayCloseness(split, whole)).toMatchObject({ ok: true });

  test('a window of 5 frames: the split pass = one pass', () => {
    const whole = read(vdaForward(w, cfg, x, T));
    setBandBudgetForTesting(BUDGET);
    const before = tf.memory().numTensors;
    const split = read(vdaForward(w, cfg, x, T));
    expect(tf.memory().numTensors).toBe(before);
    expectSame(split, whole);
  });

  test('streaming (a new frame against 4 cached): the split pass = one pass, states too', () => {
    const run = () => tf.tidy(() => {
      const first = vdaDepth(w, cfg, vdaFeatures(w, cfg, tf.slice(x, [0, 0, 0, 0], [T - 1, -1, -1, -1])), T - 1, H, W);
      const next = vdaDepth(w, cfg, vdaFeatures(w, cfg, tf.slice(x, [T - 1, 0, 0, 0], [1, -1, -1, -1])), 1, H, W, first.states);
      return [next.depth, ...next.states];
    });
    const whole = run().map(read);
    setBandBudgetForTesting(BUDGET);
    const before = tf.memory().numTensors;
    const split = run().map(read);
    expect(tf.memory().numTensors).toBe(before);
    expect(split.length).toBe(9);
    split.forEach((s, i) => expectSame(s, whole[i]));
  });
});
