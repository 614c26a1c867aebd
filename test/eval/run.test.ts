import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { encodeNpy } from '../../src/io/npy';
import { RgbImage } from '../../src/node/image';
import { DepthMap } from '../../src/pipeline/postprocess';
import { listSamples } from '../../src/node/eval/datasets';
import { DepthPredictor, EvalSettings, evaluateDataset } from '../../src/node/eval/run';

let dir: string;
beforeEach(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'da-evalrun-')); });
afterEach(async () => { await fs.rm(dir, { recursive: true, force: true }); });

const SETTINGS: EvalSettings = { protocol: 'relative', minDepth: 1e-3, maxDepth: 80, crop: 'none', depthScale: 1000, kbCrop: false, inputSize: 518, minValidPixels: 1 };

/** A solid image whose red value names the sample (so a stand-in predictor knows which it got). */
async function writeImage(rel: string, id: number, w: number, h: number): Promise<void> {
  await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
  const px = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) px[i * 3] = id;
  await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toFile(path.join(dir, rel));
}

async function writeDepthNpy(rel: string, depth: number[], w: number, h: number): Promise<void> {
  await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
  await fs.writeFile(path.join(dir, rel), encodeNpy(Float32Array.from(depth), [h, w]));
}

/** A predictor answering from a table keyed by the image's red value, at the image's size. */
function standIn(metric: boolean, table: Record<number, (x: number, y: number, w: number, h: number) => number>, seen: Array<[number, number]> = []): DepthPredictor {
  return {
    metric,
    async predict(img: RgbImage): Promise<DepthMap> {
      seen.push([img.width, img.height]);
      const f = table[img.data[0]];
      const data = new Float32Array(img.width * img.height);
      for (let y = 0; y < img.height; y++) for (let x = 0; x < img.width; x++) data[y * img.width + x] = f(x, y, img.width, img.height);
      return { data, width: img.width, height: img.height, metric };
    },
  };
}

describe('evaluateDataset', () => {
  test('relative: exact affine disparities score AbsRel 0 / delta1 1; a perturbed one scores its hand-computed value', async () => {
    // Sample 1: GT 1..6 m, prediction 0.5 / gt + 2 (an affine map of the true disparity).
    const gt1 = [1, 2, 3, 4, 5, 6];
    await writeImage('image/one.png', 1, 3, 2);
    await writeDepthNpy('depth/one.npy', gt1, 3, 2);
    // Sample 2: GT 1, 2, 2 (+ an invalid 0), prediction 2, 1, 0 -> aligned depth 12/11, 3/2, 12/5 (see align.test.ts).
    await writeImage('image/two.png', 2, 2, 2);
    await writeDepthNpy('depth/two.npy', [1, 2, 2, 0], 2, 2);
    const model = standIn(false, {
      1: (x, y, w) => 0.5 / gt1[y * w + x] + 2,
      2: (x, y, w) => [2, 1, 0, 77][y * w + x],
    });
    const report = await evaluateDataset(model, await listSamples('folder', dir), SETTINGS);
    expect(report.counts).toEqual({ images: 2, evaluated: 2, skipped: 0, failed: 0, resized: 0 });
    const [one, two] = report.images;
    expect(one.metrics!.abs_rel).toBeLessThan(1e-6);
    expect(one.metrics!.delta1).toBe(1);
    expect(one.scale).toBeCloseTo(2, 5);
    expect(one.shift).toBeCloseTo(-4, 5);
    const twoAbsRel = (1 / 11 + 0.25 + 0.2) / 3;
    expect(two.validPixels).toBe(3);
    expect(two.metrics!.abs_rel).toBeCloseTo(twoAbsRel, 6);
    expect(two.metrics!.delta1).toBeCloseTo(2 / 3, 12);
    expect(report.mean!.abs_rel).toBeCloseTo((one.metrics!.abs_rel + twoAbsRel) / 2, 6);
    expect(report.mean!.delta1).toBeCloseTo((1 + 2 / 3) / 2, 12);
    expect(report.protocol.description).toMatch(/^relative .*least-squares scale and shift.*clamped below at 1\/max_depth = 0.0125/);
  });

  test('GT smaller than the image: the prediction is resized to it (bilinear, align corners) and flagged', async () => {
    // A linear ramp survives align-corners resizing exactly: 8x6 prediction -> 4x3 ground truth.
    await writeImage('image/r.png', 3, 8, 6);
    const gt = [];
    for (let y = 0; y < 3; y++) for (let x = 0; x < 4; x++) gt.push(1 + x / 3);
    await writeDepthNpy('depth/r.npy', gt, 4, 3);
    const model = standIn(true, { 3: (x, _y, w) => 1 + x / (w - 1) });
    const report = await evaluateDataset(model, await listSamples('folder', dir), { ...SETTINGS, protocol: 'metric' });
    const r = report.images[0];
    expect([r.status, r.resized, r.width, r.height, r.validPixels]).toEqual(['ok', true, 4, 3, 12]);
    expect(r.metrics!.abs_rel).toBeLessThan(1e-6);
    expect(report.counts.resized).toBe(1);
  });

  test('skipped (too little ground truth) and failed (unreadable) images are reported; the mean covers the rest', async () => {
    await writeImage('image/a.png', 4, 2, 2);
    await writeDepthNpy('depth/a.npy', [1, 2, 3, 4], 2, 2);
    await writeImage('image/b.png', 4, 2, 2);
    await writeDepthNpy('depth/b.npy', [0, 0, 0, 1], 2, 2);
    await writeImage('image/c.png', 4, 2, 2);
    await fs.writeFile(path.join(dir, 'depth/c.png'), 'not a png');
    const model = standIn(true, { 4: () => 2 });
    const seen: string[] = [];
    const report = await evaluateDataset(model, await listSamples('folder', dir), { ...SETTINGS, protocol: 'metric', minValidPixels: 2 }, (k, r) => seen.push(`${k}:${r.name}:${r.status}`));
    expect(seen).toEqual(['0:a:ok', '1:b:skipped', '2:c:failed']);
    expect(report.counts).toEqual({ images: 3, evaluated: 1, skipped: 1, failed: 1, resized: 0 });
    expect(report.images[1].error).toContain('only 1 valid ground-truth pixels');
    expect(report.images[2].error).toContain(`${path.join(dir, 'depth/c.png')}: cannot read ground truth`);
    // Only a: |1-2|/1, 0, |3-2|/3, |4-2|/4
    expect(report.mean!.abs_rel).toBeCloseTo((1 + 0 + 1 / 3 + 0.5) / 4, 6);
  });

  test('KITTI benchmark crop: the model sees the 1216x352 window, metrics are on it', async () => {
    await writeImage('image/k.png', 5, 1242, 375);
    const gt = new Float32Array(1242 * 375);
    for (let y = 0; y < 375; y++) for (let x = 0; x < 1242; x++) gt[y * 1242 + x] = y >= 23 && x >= 13 && x < 13 + 1216 ? 10 : 0;
    await fs.mkdir(path.join(dir, 'depth'));
    await fs.writeFile(path.join(dir, 'depth/k.npy'), encodeNpy(gt, [375, 1242]));
    const seen: Array<[number, number]> = [];
    const model = standIn(true, { 5: () => 10 }, seen);
    const report = await evaluateDataset(model, await listSamples('folder', dir), { ...SETTINGS, protocol: 'metric', kbCrop: true });
    expect(seen).toEqual([[1216, 352]]);
    const r = report.images[0];
    expect([r.width, r.height, r.resized, r.validPixels]).toEqual([1216, 352, false, 1216 * 352]);
  });

  test('the metric protocol with a relative model is refused up front', async () => {
    await writeImage('image/a.png', 6, 2, 2);
    await writeDepthNpy('depth/a.npy', [1, 2, 3, 4], 2, 2);
    const model = standIn(false, { 6: () => 1 });
    await expect(evaluateDataset(model, await listSamples('folder', dir), { ...SETTINGS, protocol: 'metric' }))
      .rejects.toThrow('the metric protocol needs a metric model');
  });

  test('a metric model under the relative protocol is aligned as disparity 1 / depth', async () => {
    // Predicted depth = 3 * gt: disparity is gt's disparity / 3, an affine map -> perfect after alignment.
    const gt = [1, 2, 4, 8];
    await writeImage('image/a.png', 7, 2, 2);
    await writeDepthNpy('depth/a.npy', gt, 2, 2);
    const model = standIn(true, { 7: (x, y, w) => 3 * gt[y * w + x] });
    const report = await evaluateDataset(model, await listSamples('folder', dir), SETTINGS);
    expect(report.images[0].metrics!.abs_rel).toBeLessThan(1e-6);
    expect(report.images[0].scale).toBeCloseTo(3, 4);
  });
});
