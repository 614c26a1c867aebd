import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { runCli as run } from './run_cli';
import { METRIC_NAMES } from '../../src/eval/metrics';
import { initBackend } from '../../src/backends/node';

const TINY = path.resolve(__dirname, '../../../shared/fixtures/parity/v2-tiny');
const MODEL = ['--weights', path.join(TINY, 'weights.safetensors'), '--config', path.join(TINY, 'config.json'), '--input-size', '28', '--backend', 'cpu'];


beforeAll(async () => { await initBackend('cpu'); });

let dir: string;
beforeEach(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'da-evalcli-')); });
afterEach(async () => { await fs.rm(dir, { recursive: true, force: true }); });

/** Two 20x16 images with 16-bit millimetre ground truth (a slanted plane, some pixels missing). */
async function tinyDataset(): Promise<string> {
  const data = path.join(dir, 'data');
  await fs.mkdir(path.join(data, 'image'), { recursive: true });
  await fs.mkdir(path.join(data, 'depth'), { recursive: true });
  for (const [k, name] of ['first', 'second'].entries()) {
    const w = 20, h = 16;
    const rgb = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * (7 + k) + (i >> 4)) % 256);
    await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png().toFile(path.join(data, 'image', `${name}.png`));
    const mm = Uint16Array.from({ length: w * h }, (_, i) => (i % 11 === 0 ? 0 : 1000 + 250 * (i % w) + 100 * k));
    await sharp(mm, { raw: { width: w, height: h, channels: 1 } }).toColourspace('grey16').png().toFile(path.join(data, 'depth', `${name}.png`));
  }
  return data;
}

describe('eval end to end (tiny random V2 model, cpu)', () => {
  test('--json: report structure, finite metrics, relative protocol; --report writes the same JSON; no tensors left', async () => {
    const data = await tinyDataset();
    const reportFile = path.join(dir, 'report.json');
    const before = tf.memory().numTensors;
    const { code, out, err } = await run('eval', ...MODEL, '--data', data, '--json', '--report', reportFile);
    expect(err).toContain('dataset: folder, 2 image(s)');
    expect(err).toMatch(/\[1\/2\] first: abs_rel \d\.\d{4} rmse \d+\.\d{4} delta1 \d\.\d{4} \(\d+ px\)/);
    expect(err).toContain('images: 2 evaluated, 0 skipped (< 10 valid pixels), 0 failed');
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(JSON.parse(await fs.readFile(reportFile, 'utf8'))).toEqual(report);
    expect(report.model).toEqual({ version: 'v2', encoder: 'vits', metric: false, maxDepth: null });
    expect(report.dataset).toEqual({ kind: 'folder', dir: path.resolve(data), split: null, gtDir: null });
    expect(report.protocol).toMatchObject({ name: 'relative', minDepth: 1e-3, maxDepth: 80, crop: 'none', depthScale: 1000, kbCrop: false, inputSize: 28, minValidPixels: 10 });
    expect(report.counts).toEqual({ images: 2, evaluated: 2, skipped: 0, failed: 0, resized: 0 });
    expect(report.images.map((r: { name: string }) => r.name)).toEqual(['first', 'second']);
    // Valid pixels: GT is 0 where i % 11 == 0 (30 of 320 pixels), everything else is in range.
    for (const r of report.images) {
      expect([r.status, r.width, r.height, r.validPixels]).toEqual(['ok', 20, 16, 320 - 30]);
      expect(Object.keys(r.metrics).sort()).toEqual([...METRIC_NAMES].sort());
      for (const k of METRIC_NAMES) expect(Number.isFinite(r.metrics[k])).toBe(true);
      for (const k of ['delta1', 'delta2', 'delta3']) expect(r.metrics[k]).toBeGreaterThanOrEqual(0);
      expect(r.metrics.delta1).toBeLessThanOrEqual(r.metrics.delta2);
      expect(Number.isFinite(r.scale) && Number.isFinite(r.shift)).toBe(true);
    }
    for (const k of METRIC_NAMES) expect(report.mean[k]).toBeCloseTo((report.images[0].metrics[k] + report.images[1].metrics[k]) / 2, 12);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('human summary on stdout; --max-images, --crop and range flags reach the protocol', async () => {
    const data = await tinyDataset();
    const { code, out } = await run('eval', ...MODEL, '--data', data, '--max-images', '1', '--crop', 'garg', '--max-depth', '5', '--min-depth', '0.5');
    expect(code).toBe(0);
    expect(out).toContain('protocol: relative (zero-shot, MiDaS protocol)');
    expect(out).toContain('ground truth: 0.5 < depth < 5 m, crop garg');
    expect(out).toContain('images: 1 evaluated');
    expect(out).toMatch(/abs_rel +sq_rel +rmse +rmse_log +log10 +delta1 +delta2 +delta3\n( +\d+\.\d{4}){8}\n/);
  });

  test('a metric model is compared directly (protocol auto -> metric)', async () => {
    const data = await tinyDataset();
    const metric = path.resolve(TINY, '../v2-tiny-metric');
    const { code, out } = await run('eval', '--weights', path.join(metric, 'weights.safetensors'), '--config', path.join(metric, 'config.json'),
      '--input-size', '28', '--backend', 'cpu', '--data', data, '--json');
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(report.model.metric).toBe(true);
    expect(report.protocol.name).toBe('metric');
    expect(report.protocol.description).toMatch(/^metric: prediction in metres compared directly/);
    expect(report.images[0].scale).toBeUndefined();
    for (const k of METRIC_NAMES) expect(Number.isFinite(report.mean[k])).toBe(true);
  });

  test('nyu layout: the Eigen crop on ground truth that is not 480x640 fails each image clearly (exit 1)', async () => {
    const data = await tinyDataset();
    const nyu = path.join(dir, 'nyu', 'office');
    await fs.mkdir(nyu, { recursive: true });
    await fs.copyFile(path.join(data, 'image', 'first.png'), path.join(nyu, 'rgb_00001.png'));
    await fs.copyFile(path.join(data, 'depth', 'first.png'), path.join(nyu, 'sync_depth_00001.png'));
    const { code, err, out } = await run('eval', ...MODEL, '--data', path.join(dir, 'nyu'), '--dataset', 'nyu', '--json');
    expect(code).toBe(1);
    expect(err).toContain('[1/1] office/rgb_00001: FAILED: the Eigen crop is defined on 480x640 ground truth (NYUv2); this one is 20x16');
    const report = JSON.parse(out);
    expect(report.counts).toEqual({ images: 1, evaluated: 0, skipped: 0, failed: 1, resized: 0 });
    expect(report.mean).toBeNull();
    expect(report.protocol).toMatchObject({ maxDepth: 10, crop: 'eigen', depthScale: 1000 });
  });

  test('an empty or mismatched dataset is a clear error before the model loads', async () => {
    await fs.mkdir(path.join(dir, 'image'));
    await fs.mkdir(path.join(dir, 'depth'));
    await expect(run('eval', ...MODEL, '--data', dir)).rejects.toThrow(`${dir}: no images in image/`);
    await sharp(new Uint8Array(12), { raw: { width: 2, height: 2, channels: 3 } }).png().toFile(path.join(dir, 'image', 'x.png'));
    await expect(run('eval', ...MODEL, '--data', dir)).rejects.toThrow('1 image(s) without ground truth (depth/NAME.png or .npy): image/x.png');
    await expect(run('eval', ...MODEL, '--data', dir, '--dataset', 'nyu')).rejects.toThrow('no NYUv2 images');
  });

  test('bad option values are usage errors', async () => {
    const data = await tinyDataset();
    let r = await run('eval', ...MODEL, '--data', data, '--max-images', '0');
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('--max-images must be a positive integer, got "0"');
    r = await run('eval', ...MODEL, '--data', data, '--min-depth', '10', '--max-depth', '5');
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('--min-depth 10 must be below --max-depth 5');
    r = await run('eval', ...MODEL, '--data', data, '--dataset', 'sintel');
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/--dataset.*sintel.*Allowed choices are folder, nyu, kitti/);
    r = await run('eval', ...MODEL, '--data', data, '--report', path.join(dir, 'nope', 'r.json'));
    expect(r.code).not.toBe(0);
    expect(r.err).toContain(`cannot write the report ${path.join(dir, 'nope', 'r.json')}: folder ${path.join(dir, 'nope')} does not exist`);
    r = await run('eval', ...MODEL, '--data', data, '--protocol', 'metric');
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('--protocol metric needs a metric model (depth in metres); this model predicts relative disparity');
  });
});
