/**
 * Segmentation evaluation as mmseg's `IoUMetric` (mIoU, mAcc, aAcc, per-class IoU and Acc):
 * per image the areas of intersection, union, prediction and label per class over the pixels
 * whose label is not ignore_index (255); summed over the dataset; IoU = intersect / union with
 * classes absent from both left out of the mean (nan), x100. Labels are read as mmseg's
 * LoadAnnotations does: ADE20K with reduce_zero_label (0 -> 255, others - 1), Cityscapes from
 * `*_gtFine_labelTrainIds.png` as they are.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import fg from 'fast-glob';
import sharp from 'sharp';
import { SegDataset } from '../config/semseg';

export const IGNORE_INDEX = 255;

export interface AreaTotals { intersect: Float64Array; union: Float64Array; pred: Float64Array; label: Float64Array }

export function emptyTotals(k: number): AreaTotals {
  return { intersect: new Float64Array(k), union: new Float64Array(k), pred: new Float64Array(k), label: new Float64Array(k) };
}

/** `intersect_and_union` for one image, added into `totals`. */
export function addIntersectAndUnion(totals: AreaTotals, pred: ArrayLike<number>, label: ArrayLike<number>, ignoreIndex = IGNORE_INDEX): void {
  const k = totals.intersect.length;
  if (pred.length !== label.length) throw new Error(`prediction has ${pred.length} pixels but the label ${label.length}`);
  const inter = new Float64Array(k);
  const ap = new Float64Array(k);
  const al = new Float64Array(k);
  for (let i = 0; i < label.length; i++) {
    const l = label[i];
    if (l === ignoreIndex) continue;
    const p = pred[i];
    // torch.histc(min=0, max=k-1) drops values outside the range.
    if (p >= 0 && p < k) ap[p]++;
    if (l >= 0 && l < k) { al[l]++; if (p === l) inter[l]++; }
  }
  for (let c = 0; c < k; c++) {
    totals.intersect[c] += inter[c];
    totals.pred[c] += ap[c];
    totals.label[c] += al[c];
    totals.union[c] += ap[c] + al[c] - inter[c];
  }
}

export interface SegMetrics {
  aAcc: number;
  mIoU: number;
  mAcc: number;
  /** Per class, x100; NaN where the class is in neither prediction nor label (IoU) / not in the labels (Acc). */
  iou: number[];
  acc: number[];
}

/** `total_area_to_metrics` + IoUMetric's summary (x100; nanmean over classes). */
export function segMetrics(t: AreaTotals): SegMetrics {
  const k = t.intersect.length;
  const sum = (a: Float64Array) => a.reduce((x, y) => x + y, 0);
  const iou = Array.from({ length: k }, (_, c) => (t.union[c] > 0 ? (t.intersect[c] / t.union[c]) * 100 : NaN));
  const acc = Array.from({ length: k }, (_, c) => (t.label[c] > 0 ? (t.intersect[c] / t.label[c]) * 100 : NaN));
  const nanmean = (a: number[]) => { const v = a.filter((x) => !Number.isNaN(x)); return v.length ? v.reduce((x, y) => x + y, 0) / v.length : NaN; };
  return { aAcc: (sum(t.intersect) / sum(t.label)) * 100, mIoU: nanmean(iou), mAcc: nanmean(acc), iou, acc };
}

/** mmseg LoadAnnotations(reduce_zero_label=True): 0 (other) -> 255, c -> c - 1. */
export function reduceZeroLabel(label: Uint8Array): Uint8Array {
  return label.map((v) => (v === 0 ? 255 : v - 1 === 254 ? 255 : v - 1));
}

export interface SegSample { image: string; label: string }

/**
 * ADE20K: `images/validation/X.jpg` + `annotations/validation/X.png`; Cityscapes:
 * `leftImg8bit/val/CITY/X_leftImg8bit.png` + `gtFine/val/CITY/X_gtFine_labelTrainIds.png`.
 */
export async function listSegSamples(dataset: SegDataset, dir: string, split?: string): Promise<SegSample[]> {
  const out: SegSample[] = [];
  if (dataset === 'ade20k') {
    const s = split ?? 'validation';
    for (const rel of (await fg(`images/${s}/*.jpg`, { cwd: dir })).sort()) {
      const stem = path.basename(rel, '.jpg');
      out.push({ image: path.join(dir, rel), label: path.join(dir, 'annotations', s, `${stem}.png`) });
    }
  } else {
    const s = split ?? 'val';
    for (const rel of (await fg(`leftImg8bit/${s}/*/*_leftImg8bit.png`, { cwd: dir })).sort()) {
      const city = path.basename(path.dirname(rel));
      const stem = path.basename(rel).replace(/_leftImg8bit\.png$/, '');
      out.push({ image: path.join(dir, rel), label: path.join(dir, 'gtFine', s, city, `${stem}_gtFine_labelTrainIds.png`) });
    }
  }
  if (!out.length) throw new Error(`${dir}: no ${dataset} images found (expected ${dataset === 'ade20k' ? 'images/validation/*.jpg' : 'leftImg8bit/val/*/*_leftImg8bit.png'})`);
  return out;
}

/** A label PNG as class indices (one channel), as mmseg reads it, with ADE20K's zero-label reduction. */
export async function readLabel(file: string, dataset: SegDataset): Promise<{ data: Uint8Array; width: number; height: number }> {
  try {
    await fs.access(file);
  } catch {
    throw new Error(`${file}: label file missing`);
  }
  const { data, info } = await sharp(file).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { data: dataset === 'ade20k' ? reduceZeroLabel(raw) : raw, width: info.width, height: info.height };
}
