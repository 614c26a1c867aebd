/** mmseg IoUMetric: areas, nan classes, ignore_index, ADE20K's zero-label reduction; segment-eval end to end. */
import * as os from 'os';
import * as path from 'path';
import { promises as fs, readFileSync } from 'fs';
import sharp from 'sharp';
import { parseSafetensors } from '../../src/io/safetensors';
import { addIntersectAndUnion, emptyTotals, reduceZeroLabel, segMetrics } from '../../src/semseg/eval';
import { entryToNumbers } from '../../src/verify/seg_parity';
import { runCli } from '../cli/run_cli';
import { SEG_FIXTURES } from './parity_suite';

describe('IoUMetric', () => {
  it('per-class IoU and Acc, aAcc, nan-means; 255 is ignored', () => {
    const t = emptyTotals(4);
    // label: 0 0 1 1 2 255 ; pred: 0 1 1 1 0 3
    addIntersectAndUnion(t, [0, 1, 1, 1, 0, 3], [0, 0, 1, 1, 2, 255]);
    const m = segMetrics(t);
    // class 0: inter 1, pred 2, label 2 -> union 3; class 1: inter 2, pred 3, label 2 -> union 3;
    // class 2: inter 0, pred 0, label 1 -> union 1; class 3: the ignored pixel -> absent (nan).
    [100 / 3, 200 / 3, 0].forEach((v, c) => expect(m.iou[c]).toBeCloseTo(v, 10));
    expect(Number.isNaN(m.iou[3])).toBe(true);
    expect(m.acc.slice(0, 3)).toEqual([50, 100, 0]);
    expect(m.mIoU).toBeCloseTo(100 / 3, 10);
    expect(m.aAcc).toBeCloseTo(60, 10);
  });

  it('ADE20K labels: 0 (other) is ignored, the rest shift down by one', () => {
    expect([...reduceZeroLabel(Uint8Array.from([0, 1, 2, 150, 255]))]).toEqual([255, 0, 1, 149, 255]);
  });
});

describe('depth-anything segment-eval', () => {
  let dir: string;
  beforeAll(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'segeval-')); });
  afterAll(async () => { await fs.rm(dir, { recursive: true, force: true }); });

  it('on a Cityscapes layout whose labels are the official prediction: 100 on every class present, nan elsewhere', async () => {
    const slide = path.join(SEG_FIXTURES, 'seg-tiny-slide');
    const ref = parseSafetensors(readFileSync(path.join(slide, 'activations.safetensors')), 'ref');
    const pred = Uint8Array.from(entryToNumbers(ref.tensors.get('pred_sem_seg')!));
    const label = pred.slice();
    label.fill(255, 0, 266 * 20); // 20 ignored rows
    await fs.mkdir(path.join(dir, 'leftImg8bit/val/town'), { recursive: true });
    await fs.mkdir(path.join(dir, 'gtFine/val/town'), { recursive: true });
    await fs.copyFile(path.join(slide, 'image.png'), path.join(dir, 'leftImg8bit/val/town/a_leftImg8bit.png'));
    await sharp(label, { raw: { width: 266, height: 150, channels: 1 } }).toColourspace('b-w').png().toFile(path.join(dir, 'gtFine/val/town/a_gtFine_labelTrainIds.png'));
    const { code, out } = await runCli('segment-eval', '--weights', path.join(SEG_FIXTURES, 'seg-tiny', 'weights.pth'), '--config', path.join(slide, 'config.json'),
      '--data', dir, '--dataset', 'cityscapes', '--json', '--backend', 'wasm', '--threads', '1');
    expect(code).toBe(0);
    const r = JSON.parse(out) as { images: number; aAcc: number; mIoU: number; perClass: Array<{ name: string; iou: number | null }> };
    expect(r.images).toBe(1);
    expect(r.aAcc).toBe(100);
    expect(r.mIoU).toBe(100);
    const present = new Set(label.filter((v) => v !== 255));
    r.perClass.forEach((p, c) => expect(p.iou).toBe(present.has(c) ? 100 : null)); // JSON writes NaN as null
  });
});
