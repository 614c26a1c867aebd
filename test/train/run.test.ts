/**
 * The library's `train()` on wasm, on the metric fixture's two images as a folder (crop 70, batch
 * 1, so 2 steps per epoch): per-step metrics and the onStep callback, the evaluation harness at
 * the end of each epoch (metrics file), the result as safetensors and an official `.pth` holding
 * the same parameters; a run stopped mid-epoch and resumed from its checkpoint ends with the same
 * parameters, bit for bit, as the run that was never stopped; a diverging run stops naming the step
 * and the tensor and keeps the last good checkpoint; no tensor is left behind.
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { FIXTURES, useBackend } from '../helpers';
import { configFromJson } from '../../src/config/depth';
import { loadWeightsFile } from '../../src/node/weights_file';
import { TrainOptions, train } from '../../src/node/train_run';
import { readTrainCheckpoint } from '../../src/node/train_checkpoint';
import { readTorchCheckpoint } from '../../src/weights/torch_zip';
import { StateDict } from '../../src/weights/state_dict';

const CASE = path.join(FIXTURES, 'train', 'train-metric-tiny');
let dir: string;
let base: TrainOptions;

beforeAll(async () => {
  await useBackend('wasm');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'train-run-'));
  await fs.mkdir(path.join(dir, 'data', 'image'), { recursive: true });
  await fs.mkdir(path.join(dir, 'data', 'depth'));
  for (const k of [0, 1]) {
    await fs.copyFile(path.join(CASE, 'data', `photo${k}.png`), path.join(dir, 'data', 'image', `photo${k}.png`));
    await fs.copyFile(path.join(CASE, 'data', `photo${k}_depth.png`), path.join(dir, 'data', 'depth', `photo${k}.png`));
  }
  const config = configFromJson(JSON.parse(await fs.readFile(path.join(CASE, 'config.json'), 'utf8')).model);
  const weights = (await loadWeightsFile(path.join(CASE, 'weights.safetensors'))).stateDict;
  base = { recipe: 'metric', weights, config, data: path.join(dir, 'data'), out: '', epochs: 2, batch: 1, seed: 7, depthScale: 100, metric: { cropSize: 70 } };
});

afterAll(async () => { await fs.rm(dir, { recursive: true, force: true }); });

const same = (a: StateDict, b: StateDict) => [...a.keys()].length === [...b.keys()].length &&
  [...a].every(([k, t]) => { const u = b.get(k); return !!u && u.shape.join() === t.shape.join() && Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)); });

test('an uninterrupted run and a run stopped after step 1 then resumed end with the same parameters; metrics, eval per epoch, .pth', async () => {
  const before = tf.memory().numTensors;
  const seen: number[] = [];
  const a = await train({ ...base, out: path.join(dir, 'a.safetensors'), checkpointEvery: 1, evalData: path.join(dir, 'data'), metricsFile: path.join(dir, 'a.json'), onStep: (m) => seen.push(m.step) });
  expect(seen).toEqual([1, 2, 3, 4]);
  expect(a.steps.map((m) => [m.epoch, Number.isFinite(m.loss), m.stepsPerSecond > 0])).toEqual([[0, true, true], [0, true, true], [1, true, true], [1, true, true]]);
  expect(a.steps[0].lrs).toEqual([5e-6, 5e-5]);
  expect(a.epochs.map((e) => [e.epoch, e.step, e.eval?.protocol, e.eval?.counts.evaluated])).toEqual([[0, 2, 'metric', 2], [1, 4, 'metric', 2]]);
  expect(a.epochs[1].eval!.mean!.abs_rel).toBeGreaterThan(0);
  expect(JSON.parse(await fs.readFile(path.join(dir, 'a.json'), 'utf8')).epochs).toHaveLength(2);
  expect(a.files).toEqual([path.join(dir, 'a.safetensors'), path.join(dir, 'a.pth'), path.join(dir, 'a.json')]);
  const aw = (await loadWeightsFile(path.join(dir, 'a.safetensors'))).stateDict;
  expect(same(aw, (await readTorchCheckpoint(path.join(dir, 'a.pth'))).stateDict)).toBe(true);
  expect(same(aw, base.weights)).toBe(false);

  const stop = new AbortController();
  const b1 = await train({ ...base, out: path.join(dir, 'b.safetensors'), checkpointEvery: 3, metricsFile: path.join(dir, 'b.json'), signal: stop.signal, onStep: (m) => { if (m.step === 1) stop.abort(); } });
  expect({ stopped: b1.stopped, steps: b1.steps.length, files: b1.files }).toEqual({ stopped: true, steps: 1, files: [path.join(dir, 'b.checkpoint.safetensors')] });
  await expect(fs.stat(path.join(dir, 'b.safetensors'))).rejects.toThrow();
  const ck = await readTrainCheckpoint(path.join(dir, 'b.checkpoint.safetensors'));
  expect([ck.pos.step, ck.pos.epoch, ck.pos.batchInEpoch]).toEqual([1, 0, 1]);
  const b2 = await train({ ...base, out: path.join(dir, 'b.safetensors'), resume: true, metricsFile: path.join(dir, 'b.json') });
  expect(b2.steps.map((m) => m.step)).toEqual([2, 3, 4]);
  expect(b2.steps.map((m) => m.loss)).toEqual(a.steps.slice(1).map((m) => m.loss));
  expect(same((await loadWeightsFile(path.join(dir, 'b.safetensors'))).stateDict, aw)).toBe(true);
  expect(JSON.parse(await fs.readFile(path.join(dir, 'b.json'), 'utf8')).steps.map((m: { step: number; loss: number }) => [m.step, m.loss])).toEqual(a.steps.map((m) => [m.step, m.loss]));
  expect(tf.memory().numTensors).toBe(before);
});

test('a resume with other settings, and a diverging loss: one line each; the last good checkpoint is kept', async () => {
  await expect(train({ ...base, batch: 2, out: path.join(dir, 'b.safetensors'), resume: true })).rejects.toThrow(`--resume: ${path.join(dir, 'b.checkpoint.safetensors')} was written by a run with batch 1; this one has batch 2`);
  const before = tf.memory().numTensors;
  const out = path.join(dir, 'nan.safetensors');
  // lr 1e30: step 1 throws every parameter to ~1e30, so step 2's prediction and loss are not finite.
  await expect(train({ ...base, out, checkpointEvery: 1, metric: { cropSize: 70, lr: 1e30 } }))
    .rejects.toThrow(new RegExp(`^step 2: the (SiLog loss is (NaN|-?Infinity)|gradient of \\S+ holds NaN or inf); the parameters were not updated; the last checkpoint ${path.join(dir, 'nan.checkpoint.safetensors').replace(/[.\\/]/g, '\\$&')} \\(step 1\\) is kept$`));
  expect((await readTrainCheckpoint(path.join(dir, 'nan.checkpoint.safetensors'))).pos.step).toBe(1);
  await expect(fs.stat(out)).rejects.toThrow();
  await expect(fs.stat(path.join(dir, 'nan.pth'))).rejects.toThrow();
  expect(tf.memory().numTensors).toBe(before);
});
