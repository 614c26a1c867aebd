/**
 * `depth-anything train --recipe metric` end to end on wasm: two steps on the metric fixture's two
 * images laid out as a dataset folder; the result loads with the configuration in its metadata,
 * holds every parameter, and differs from the initial weights; missing options and a missing depth
 * file are one line each, and nothing is written then.
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { FIXTURES, useBackend } from '../helpers';
import { runCli } from '../cli/run_cli';
import { loadWeightsFile } from '../../src/node/weights_file';

const CASE = path.join(FIXTURES, 'train', 'train-metric-tiny');
let dir: string;

beforeAll(async () => {
  await useBackend('wasm');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'train-cli-'));
  await fs.mkdir(path.join(dir, 'data', 'image'), { recursive: true });
  await fs.mkdir(path.join(dir, 'data', 'depth'));
  for (const k of [0, 1]) {
    await fs.copyFile(path.join(CASE, 'data', `photo${k}.png`), path.join(dir, 'data', 'image', `photo${k}.png`));
    await fs.copyFile(path.join(CASE, 'data', `photo${k}_depth.png`), path.join(dir, 'data', 'depth', `photo${k}.png`));
  }
  const cfg = JSON.parse(await fs.readFile(path.join(CASE, 'config.json'), 'utf8')).model;
  await fs.writeFile(path.join(dir, 'config.json'), JSON.stringify(cfg));
});

afterAll(async () => { await fs.rm(dir, { recursive: true, force: true }); });

test('fine-tunes from a folder; the result loads as a model with every parameter changed where it has a gradient', async () => {
  const out = path.join(dir, 'ft.safetensors');
  const before = tf.memory().numTensors;
  const r = await runCli('train', '--data', path.join(dir, 'data'), '--weights', path.join(CASE, 'weights.safetensors'), '--config', path.join(dir, 'config.json'),
    '--out', out, '--epochs', '2', '--batch', '2', '--crop', '70', '--backend', 'wasm', '--seed', '3');
  expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: expect.stringContaining('step 2/2 epoch 2: loss ') });
  expect(tf.memory().numTensors).toBe(before);
  const trained = await loadWeightsFile(out);
  const initial = await loadWeightsFile(path.join(CASE, 'weights.safetensors'));
  expect(trained.config?.maxDepth).toBe(20);
  expect([...trained.stateDict.keys()].sort()).toEqual([...initial.stateDict.keys()].sort());
  const changed = (k: string) => trained.stateDict.get(k)!.data.some((v, i) => v !== initial.stateDict.get(k)!.data[i]);
  expect(changed('pretrained.blocks.0.attn.qkv.weight')).toBe(true);
  expect(changed('depth_head.scratch.output_conv2.2.bias')).toBe(true);
  expect(changed('pretrained.mask_token')).toBe(false); // no gradient: no decay either
});

test('missing options, and a depth file missing from the data: one line, nothing written', async () => {
  const out = path.join(dir, 'bad.safetensors');
  const r1 = await runCli('train', '--weights', path.join(CASE, 'weights.safetensors'), '--backend', 'wasm');
  expect(r1.code).not.toBe(0);
  expect(r1.err).toContain('train --recipe metric needs --data, --out (or --replay CASE_DIR)');
  await fs.rm(path.join(dir, 'data', 'depth', 'photo1.png'));
  await expect(runCli('train', '--data', path.join(dir, 'data'), '--weights', path.join(CASE, 'weights.safetensors'), '--config', path.join(dir, 'config.json'),
    '--out', out, '--crop', '70', '--backend', 'wasm')).rejects.toThrow('image/ and depth/ do not match: 1 image(s) without ground truth (depth/NAME.png or .npy): image/photo1.png');
  await expect(fs.stat(out)).rejects.toThrow();
});
