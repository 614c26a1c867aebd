/**
 * The library and the `segment` command end to end on the fixture (seg-tiny-slide: PNG ->
 * official Resize -> slide -> original size), the cv2-exact resize, no leaks, and bad input.
 */
import * as os from 'os';
import * as path from 'path';
import { promises as fs } from 'fs';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { compareArrays, PARITY_TOLERANCE } from '../../src/verify/compare';
import { entryToNumbers } from '../../src/verify/seg_parity';
import { rescaleSize, resizeLinearU8 } from '../../src/semseg/preprocess';
import { Segmenter } from '../../src/node/segmenter';
import { decodeNpy } from '../../src/io/npy';
import { runCli } from '../cli/run_cli';
import { SEG_FIXTURES, slideCase } from './parity_suite';

const { weights: WEIGHTS, config: CONFIG, image: IMAGE, ref, labels: refLabels, logits: refLogits } = slideCase();

let dir: string;
beforeAll(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'segment-')); });
afterAll(async () => { await fs.rm(dir, { recursive: true, force: true }); });

describe('the test pipeline\'s Resize (mmcv imrescale, cv2 INTER_LINEAR on uint8)', () => {
  it('reproduces the recorded resize bit for bit (150x266 -> 120x213)', () => {
    const [, H0, W0] = ref.tensors.get('image_bgr')!.shape;
    const [, , H, W] = ref.tensors.get('input')!.shape;
    expect(rescaleSize(W0, H0, [480, 120])).toMatchObject({ width: W, height: H });
    const out = resizeLinearU8(Uint8Array.from(entryToNumbers(ref.tensors.get('image_bgr')!)), H0, W0, 3, H, W);
    const input = entryToNumbers(ref.tensors.get('input')!); // [1, 3, H, W]
    let differing = 0;
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) if (out[(y * W + x) * 3 + c] !== input[(c * H + y) * W + x]) differing++;
    expect(differing).toBe(0);
  });

  it('rescale_size rounds as mmcv (int(x * s + 0.5)) and an exact 2x downscale averages 2x2 blocks', () => {
    expect(rescaleSize(1000, 500, [3584, 896])).toMatchObject({ width: 1792, height: 896 });
    expect(rescaleSize(2048, 1024, [3584, 896])).toMatchObject({ width: 1792, height: 896 });
    const src = Uint8Array.from([0, 1, 10, 20, 2, 3, 30, 41]); // 2x4, one channel
    expect([...resizeLinearU8(src, 2, 4, 1, 1, 2)]).toEqual([2, 25]); // (6 + 2) >> 2, (101 + 2) >> 2
  });
});

describe('Segmenter on wasm', () => {
  let seg: Segmenter;
  beforeAll(async () => { seg = await Segmenter.load(WEIGHTS, { backend: 'wasm', threads: 1, config: CONFIG }); });
  afterAll(() => seg.dispose());

  it('segments the fixture image as the official pipeline does, leaking nothing', async () => {
    const before = tf.memory().numTensors;
    const out = await seg.segment(IMAGE, { logits: true });
    expect(tf.memory().numTensors).toBe(before);
    expect([out.width, out.height]).toEqual([266, 150]);
    const { relL2, maxAbs, refMax } = compareArrays(out.logits!, refLogits);
    expect(relL2).toBeLessThanOrEqual(PARITY_TOLERANCE.relL2);
    expect(maxAbs).toBeLessThanOrEqual(PARITY_TOLERANCE.maxAbsFactor * Math.max(1, refMax));
    expect([...out.labels]).toEqual(refLabels);
    expect(out.classes).toEqual(['wall', 'building', 'sky', 'floor', 'tree', 'ceiling', 'road']);
  });

  it('whole mode pads to a multiple of 14 and still returns the image size', async () => {
    const out = await seg.segment(IMAGE, { mode: 'whole' });
    expect(out.labels.length).toBe(266 * 150);
  });

  it('bad crops: one clear line each', async () => {
    await expect(seg.segment(IMAGE, { crop: 100 })).rejects.toThrow('slide crop 100x100 is not a positive multiple of the patch size 14');
    await expect(seg.segment(IMAGE, { crop: 182 })).rejects.toThrow(`${IMAGE}: slide crop 182x182 is larger than the image (213x120 after the test resize); use a smaller --crop or --mode whole`);
  });
});

describe('depth-anything segment', () => {
  it('writes labels, colour, overlay and logits; the labels PNG is the official prediction', async () => {
    const outdir = path.join(dir, 'out');
    const { code, err } = await runCli('segment', IMAGE, '--weights', WEIGHTS, '--config', CONFIG, '--outdir', outdir,
      '--format', 'labels,color,overlay,npy', '--backend', 'wasm', '--threads', '1');
    expect(err).toContain('done: 1 written, 0 failed');
    expect(code).toBe(0);
    const labelsPng = path.join(outdir, 'image_labels.png');
    const meta = await sharp(labelsPng).metadata();
    expect([meta.width, meta.height, meta.channels, meta.depth]).toEqual([266, 150, 1, 'uchar']);
    const data = await sharp(labelsPng).extractChannel(0).raw().toBuffer(); // (sharp decodes grey to sRGB otherwise)
    expect([...data]).toEqual(refLabels);
    const npy = decodeNpy(await fs.readFile(path.join(outdir, 'image_logits.npy')));
    expect(npy.shape).toEqual([7, 150, 266]);
    const { relL2, maxAbs, refMax } = compareArrays(npy.data, refLogits);
    expect(relL2).toBeLessThanOrEqual(PARITY_TOLERANCE.relL2);
    expect(maxAbs).toBeLessThanOrEqual(PARITY_TOLERANCE.maxAbsFactor * Math.max(1, refMax));
    const color = await sharp(path.join(outdir, 'image_seg.png')).raw().toBuffer();
    expect([...color.subarray(0, 3)]).toEqual([[120, 120, 120], [180, 120, 120], [6, 230, 230], [80, 50, 50], [4, 200, 3], [120, 120, 80], [140, 140, 140]][refLabels[0]]);
    expect((await fs.stat(path.join(outdir, 'image_overlay.png'))).size).toBeGreaterThan(0);
  });

  it('a depth model, or a crop that is not a multiple of 14: one clear line', async () => {
    const depth = path.resolve(SEG_FIXTURES, '../parity/v2-tiny/weights.pth');
    await expect(runCli('segment', IMAGE, '--weights', depth, '--outdir', dir, '--backend', 'wasm')).rejects.toThrow(`${depth}: this is a Depth Anything depth model`);
    await expect(runCli('segment', IMAGE, '--weights', WEIGHTS, '--config', CONFIG, '--crop', '100', '--outdir', dir, '--backend', 'wasm')).rejects.toThrow('slide crop 100x100 is not a positive multiple of the patch size 14');
  });
});
