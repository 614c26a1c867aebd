/**
 * `depth-anything train --recipe self-training` on wasm, on the relative fixture's data laid out as
 * a user's folders (1 labeled image with depth in metres, 2 unlabeled images, the fixture's teacher,
 * the student's initial encoder as the frozen DINOv2): one step, the result as safetensors and
 * .pth. Bad input, one line each and nothing written: a teacher of another kind (metric), an empty
 * unlabeled folder, a depth map of another size than its image, depth in unknown units.
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { FIXTURES, useBackend } from '../helpers';
import { runCli } from '../cli/run_cli';
import { decodeNpy, encodeNpy } from '../../src/io/npy';
import { loadWeightsFile } from '../../src/node/weights_file';
import { readTorchCheckpoint } from '../../src/weights/torch_zip';

const CASE = path.join(FIXTURES, 'train', 'train-relative-tiny');
const METRIC = path.join(FIXTURES, 'train', 'train-metric-tiny');
let dir: string;
let args: (over: Record<string, string>) => string[];

beforeAll(async () => {
  await useBackend('wasm');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'train-self-'));
  for (const d of ['lab/image', 'lab/depth', 'unl', 'empty']) await fs.mkdir(path.join(dir, d), { recursive: true });
  await fs.copyFile(path.join(CASE, 'data', 'labeled0.png'), path.join(dir, 'lab', 'image', 'labeled0.png'));
  await fs.copyFile(path.join(CASE, 'data', 'labeled0_depth.npy'), path.join(dir, 'lab', 'depth', 'labeled0.npy'));
  for (const k of [0, 1]) await fs.copyFile(path.join(CASE, 'data', `unlabeled${k}.png`), path.join(dir, 'unl', `unlabeled${k}.png`));
  const cj = JSON.parse(await fs.readFile(path.join(CASE, 'config.json'), 'utf8'));
  await fs.writeFile(path.join(dir, 'student.json'), JSON.stringify(cj.student));
  await fs.writeFile(path.join(dir, 'teacher.json'), JSON.stringify(cj.teacher));
  await fs.writeFile(path.join(dir, 'metric.json'), JSON.stringify(JSON.parse(await fs.readFile(path.join(METRIC, 'config.json'), 'utf8')).model));
  args = (over) => Object.entries({
    '--recipe': 'self-training', '--data': path.join(dir, 'lab'), '--unlabeled': path.join(dir, 'unl'),
    '--teacher': path.join(CASE, 'teacher.safetensors'), '--teacher-config': path.join(dir, 'teacher.json'),
    '--weights': path.join(CASE, 'weights.safetensors'), '--config': path.join(dir, 'student.json'),
    '--out': path.join(dir, 'st.safetensors'), '--epochs': '1', '--batch': '1', '--crop': '70', '--seed': '1', '--backend': 'wasm', ...over,
  }).flat();
});

afterAll(async () => { await fs.rm(dir, { recursive: true, force: true }); });

test('one self-training step from folders and a teacher; the result loads, and as .pth', async () => {
  const before = tf.memory().numTensors;
  const r = await runCli('train', ...args({}));
  expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: expect.stringMatching(/step 1\/1 epoch 1: loss \d\.\d+ \(labeled \d\.\d+, unlabeled \d\.\d+, feat \d\.\d+\), lr 5\.00e-6 \/ 5\.00e-5/) });
  expect(tf.memory().numTensors).toBe(before);
  const trained = await loadWeightsFile(path.join(dir, 'st.safetensors'));
  const initial = await loadWeightsFile(path.join(CASE, 'weights.safetensors'));
  expect(trained.config?.maxDepth).toBeUndefined();
  const pth = await readTorchCheckpoint(path.join(dir, 'st.pth'));
  expect([...pth.stateDict.keys()]).toEqual([...trained.stateDict.keys()]);
  expect([...trained.stateDict.keys()].sort()).toEqual([...initial.stateDict.keys()].sort());
  const changed = (k: string) => trained.stateDict.get(k)!.data.some((v, i) => v !== initial.stateDict.get(k)!.data[i]);
  expect(changed('pretrained.blocks.11.mlp.fc2.weight')).toBe(true);
  expect(changed('depth_head.scratch.output_conv2.2.weight')).toBe(true);
});

test('bad input: one line each, nothing written', async () => {
  const out = path.join(dir, 'bad.safetensors');
  const run = (over: Record<string, string>) => runCli('train', ...args({ '--out': out, ...over }));
  await expect(run({ '--teacher': path.join(METRIC, 'weights.safetensors'), '--teacher-config': path.join(dir, 'metric.json') }))
    .rejects.toThrow(`--teacher ${path.join(METRIC, 'weights.safetensors')}: a v2 vits metric (max_depth 20) model; self-training needs a relative (disparity) teacher`);
  await expect(run({ '--unlabeled': path.join(dir, 'empty') })).rejects.toThrow(`${path.join(dir, 'empty')}: an empty folder: no unlabeled images`);
  const npy = path.join(dir, 'lab', 'depth', 'labeled0.npy');
  const depth = decodeNpy(await fs.readFile(npy));
  const [h, w] = depth.shape;
  await fs.writeFile(npy, encodeNpy(depth.data.slice(0, h * (w - 1)), [h, w - 1]));
  await expect(run({})).rejects.toThrow(`${npy}: the depth map is ${w - 1}x${h}, the image ${w}x${h}; they must have the same size`);
  await fs.writeFile(npy, encodeNpy(depth.data.map((d) => d * 1000), depth.shape)); // millimetres in a .npy
  await expect(run({})).rejects.toThrow(new RegExp(`^${npy.replace(/[.\\/]/g, '\\$&')}: depth in unknown units: the median valid depth reads as \\S+ m \\(more than 1 km\\): a \\.npy must hold metres$`));
  await fs.writeFile(npy, encodeNpy(depth.data, depth.shape));
  await expect(fs.readdir(dir)).resolves.not.toContain('bad.safetensors');
  expect((await fs.readdir(dir)).filter((f) => f.startsWith('bad') || f.endsWith('.tmp'))).toEqual([]);
});
