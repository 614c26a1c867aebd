/**
 * Layer-by-layer comparison of the segmentation model against the fixtures' recording of the
 * official mmseg code (`../shared/fixtures/seg/<case>/activations.safetensors`): every float
 * tensor within the fixtures' tolerances, the attention-mask bits and the argmax labels equal
 * wherever the recorded margins make them decidable, and the slide boxes equal.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ParsedSafetensors, SafetensorsEntry, entryToFloat32, TensorToWrite } from '../io/safetensors';
import { PARITY_TOLERANCE, TapRecorder, TensorComparison, compareWithReference } from './compare';
import { SegConfig, SegTestCfg } from '../config/semseg';
import { StateDict } from '../weights/state_dict';
import type { BackendMemory } from '../backends/memory';
import type { GpuAdapterInfo } from '../backends/adapter';
import { SegWeights, argmaxWithGap, bindSegWeights, disposeSegWeights, dataPreprocess, inference, postprocess, slideBoxes } from '../semseg/encoder_decoder';

/**
 * A mask bit may differ only where the logit it thresholds is this close to 0: the fixtures list
 * how many recorded logits lie under 1e-3 (float32 vs the recording's float32 differs far less).
 */
export const MASK_MARGIN = 1e-3;

export interface BitComparison {
  key: string;
  total: number;
  differing: number;
  /** Smallest |logit| (ours) among differing bits; Infinity when none differ. */
  maxDifferingMargin: number;
  ok: boolean;
}

export interface SegParityReport {
  comparisons: TensorComparison[];
  masks: BitComparison[];
  /** pred_sem_seg: pixels differing, and the largest recorded top1 - top2 gap among them. */
  labels?: { total: number; differing: number; maxGap: number; gapLimit: number; ok: boolean };
  boxes?: { ok: boolean; detail: string };
  notComputed: string[];
  ok: boolean;
  computed: TensorToWrite[];
}

/** Integer entries (U8, I64, I32, BOOL) as numbers. */
export function entryToNumbers(e: SafetensorsEntry): number[] {
  const n = e.shape.reduce((a, b) => a * b, 1);
  const dv = new DataView(e.bytes.buffer, e.bytes.byteOffset, e.bytes.byteLength);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    switch (e.dtype) {
      case 'U8': case 'BOOL': out[i] = dv.getUint8(i); break;
      case 'I64': out[i] = Number(dv.getBigInt64(i * 8, true)); break;
      case 'I32': out[i] = dv.getInt32(i * 4, true); break;
      default: throw new Error(`${e.name}: dtype ${e.dtype} is not an integer dtype`);
    }
  }
  return out;
}

const toTorch = (t: tf.Tensor): tf.Tensor => (t.rank === 4 ? tf.transpose(t, [0, 3, 1, 2]) : tf.clone(t));

/**
 * Runs the reference's `input` (uint8 BGR [B, 3, H, W], what PackSegInputs gives the model)
 * through preprocessing, inference (`test`) and postprocessing to the recorded `seg_logits` size.
 */
export async function runSegParity(w: SegWeights, cfg: SegConfig, test: SegTestCfg, reference: ParsedSafetensors): Promise<SegParityReport> {
  const src = reference.source;
  const inputEntry = reference.tensors.get('input');
  if (!inputEntry || inputEntry.shape.length !== 4 || inputEntry.shape[1] !== 3) throw new Error(`${src}: the reference has no uint8 "input" [B, 3, H, W]`);
  const segEntry = reference.tensors.get('seg_logits');
  if (!segEntry) throw new Error(`${src}: the reference has no "seg_logits"`);
  const [B, , H, W] = inputEntry.shape;
  const ori: [number, number] = [segEntry.shape[2], segEntry.shape[3]];

  // Taps read as the depth parity reads them (TapRecorder); the masks likewise, after the pass on GPU backends.
  const rec = new TapRecorder(toTorch);
  const { tap, readLater, captured } = rec;
  const masks = new Map<number, { bits: Uint8Array; logits: Float32Array; shape: number[] }>();
  const pendingMasks = new Map<number, [tf.Tensor3D, tf.Tensor3D]>();
  const maskTap = (call: number, m: tf.Tensor3D, l: tf.Tensor3D) => {
    if (readLater) { pendingMasks.set(call, [tf.keep(tf.clone(m)), tf.keep(tf.clone(l))]); return; }
    masks.set(call, { bits: Uint8Array.from(m.dataSync()), logits: l.dataSync() as Float32Array, shape: m.shape });
  };

  let labelsT: tf.Tensor3D | undefined;
  try {
    labelsT = tf.tidy(() => {
      const bgr = tf.transpose(tf.tensor4d(Float32Array.from(entryToNumbers(inputEntry)), [B, 3, H, W]), [0, 2, 3, 1]) as tf.Tensor4D;
      const { inputs, padBottom, padRight } = dataPreprocess(bgr, cfg, tap);
      const logits = inference(inputs, w, cfg, test, tap, maskTap);
      const perImage: tf.Tensor4D[] = [];
      for (let b = 0; b < B; b++) perImage.push(postprocess(tf.slice(logits, [b, 0, 0, 0], [1, -1, -1, -1]), padBottom, padRight, ori));
      const seg = tf.concat(perImage, 0) as tf.Tensor4D;
      tap('seg_logits', seg);
      const { labels, gap } = argmaxWithGap(seg);
      tap('pred_sem_seg_gap', gap);
      return labels;
    });
    captured.set('pred_sem_seg', { name: 'pred_sem_seg', shape: labelsT.shape, data: Float32Array.from(await labelsT.data()) });
    await rec.finish();
    for (const [call, [m, l]] of pendingMasks) {
      masks.set(call, { bits: Uint8Array.from(await m.data()), logits: (await l.data()) as Float32Array, shape: m.shape });
      tf.dispose([m, l]);
      pendingMasks.delete(call);
    }
  } finally {
    rec.dispose();
    tf.dispose([...pendingMasks.values()].flat());
    labelsT?.dispose();
  }

  const { comparisons, notComputed } = compareWithReference(captured, reference, ['input']);

  // Attention masks: reference [B*heads, Q, hw] (the same mask repeated per head), ours [B, Q, hw].
  const maskResults: BitComparison[] = [];
  for (const [key, entry] of reference.tensors) {
    const m = /^decode_head\._forward_head\.(\d+)\.attn_mask$/.exec(key);
    if (!m) continue;
    const ours = masks.get(Number(m[1]));
    if (!ours) { notComputed.push(key); continue; }
    const ref = entryToNumbers(entry);
    const [BH, Q, HW] = entry.shape;
    const heads = BH / B;
    let differing = 0;
    let maxMargin = 0;
    if (ours.shape[0] !== B || ours.shape[1] !== Q || ours.shape[2] !== HW) {
      maskResults.push({ key, total: ref.length, differing: ref.length, maxDifferingMargin: Infinity, ok: false });
      continue;
    }
    for (let bh = 0; bh < BH; bh++) {
      const b = Math.floor(bh / heads);
      for (let i = 0; i < Q * HW; i++) {
        const o = b * Q * HW + i;
        if (ours.bits[o] !== ref[bh * Q * HW + i]) {
          differing++;
          maxMargin = Math.max(maxMargin, Math.abs(ours.logits[o]));
        }
      }
    }
    maskResults.push({ key, total: ref.length, differing, maxDifferingMargin: differing ? maxMargin : 0, ok: maxMargin < MASK_MARGIN });
  }

  let labels: SegParityReport['labels'];
  const predEntry = reference.tensors.get('pred_sem_seg');
  const gapEntry = reference.tensors.get('pred_sem_seg_gap');
  const ours = captured.get('pred_sem_seg');
  if (predEntry && gapEntry && ours) {
    const ref = entryToNumbers(predEntry);
    const gap = entryToFloat32(gapEntry, src);
    const segCmp = comparisons.find((c) => c.key === 'seg_logits');
    // A pixel is decidable when its recorded top1 - top2 gap exceeds twice the allowed error.
    const gapLimit = 2 * (segCmp ? segCmp.maxAbsLimit : PARITY_TOLERANCE.maxAbsFactor);
    let differing = 0;
    let maxGap = 0;
    for (let i = 0; i < ref.length; i++) {
      if (ours.data[i] !== ref[i]) { differing++; maxGap = Math.max(maxGap, gap[i]); }
    }
    labels = { total: ref.length, differing, maxGap, gapLimit, ok: ours.data.length === ref.length && maxGap <= gapLimit };
  }

  let boxes: SegParityReport['boxes'];
  const boxEntry = reference.tensors.get('slide.boxes');
  if (boxEntry) {
    if (test.mode !== 'slide') boxes = { ok: false, detail: 'the reference records slide boxes but the run is not in slide mode' };
    else {
      const ref = entryToNumbers(boxEntry);
      const inputH = H + (cfg.preprocess.sizeDivisor ? (Math.ceil(H / cfg.preprocess.sizeDivisor) * cfg.preprocess.sizeDivisor - H) : 0);
      const inputW = W + (cfg.preprocess.sizeDivisor ? (Math.ceil(W / cfg.preprocess.sizeDivisor) * cfg.preprocess.sizeDivisor - W) : 0);
      const mine = slideBoxes(inputH, inputW, test.crop!, test.stride!).flatMap((b) => [b.y1, b.y2, b.x1, b.x2]);
      const ok = mine.length === ref.length && mine.every((v, i) => v === ref[i]);
      boxes = { ok, detail: ok ? `${mine.length / 4} boxes equal` : `ours ${JSON.stringify(mine)}, reference ${JSON.stringify(ref)}` };
    }
  }

  const ok = comparisons.length > 0 && comparisons.every((c) => c.ok) && maskResults.every((m) => m.ok)
    && (labels?.ok ?? false) && (boxes?.ok ?? true) && notComputed.length === 0;
  return { comparisons, masks: maskResults, labels, boxes, notComputed, ok, computed: [...captured.values()] };
}

/**
 * The seg `parity` computation from data in memory (no file access): the CLI in Node and the page
 * `parity --browser` runs in Chromium both call this. Binds, compares, disposes.
 */
export async function segParityFromStateDict(stateDict: StateDict, cfg: SegConfig, reference: ParsedSafetensors, source: string): Promise<SegParityReport> {
  const w = bindSegWeights(stateDict, cfg, source);
  try {
    return await runSegParity(w, cfg, cfg.test, reference);
  } finally {
    disposeSegWeights(w);
  }
}

export function formatSegParityReport(r: SegParityReport): string {
  const width = Math.max(...r.comparisons.map((c) => c.key.length), 10);
  const lines = r.comparisons.map((c) => {
    const status = c.ok ? 'ok' : Number.isNaN(c.relL2) ? 'FAIL (shape or NaN)' : 'FAIL';
    return `${c.key.padEnd(width)}  ${`[${c.shape.join(', ')}]`.padEnd(20)}  relL2 ${c.relL2.toExponential(2)}  maxAbs ${c.maxAbs.toExponential(2)} (limit ${c.maxAbsLimit.toExponential(1)})  ${status}`;
  });
  for (const m of r.masks) {
    lines.push(`${m.key.padEnd(width)}  ${m.differing} of ${m.total} bits differ${m.differing ? ` (largest |logit| among them ${m.maxDifferingMargin.toExponential(2)}, allowed < ${MASK_MARGIN})` : ''}  ${m.ok ? 'ok' : 'FAIL'}`);
  }
  if (r.labels) {
    const l = r.labels;
    lines.push(`${'pred_sem_seg'.padEnd(width)}  ${l.differing} of ${l.total} pixels differ${l.differing ? ` (largest recorded top1-top2 gap among them ${l.maxGap.toExponential(2)}, allowed <= ${l.gapLimit.toExponential(1)})` : ''}  ${l.ok ? 'ok' : 'FAIL'}`);
  }
  if (r.boxes) lines.push(`${'slide.boxes'.padEnd(width)}  ${r.boxes.detail}  ${r.boxes.ok ? 'ok' : 'FAIL'}`);
  if (r.notComputed.length) lines.push(`not computed (${r.notComputed.length}): ${r.notComputed.join(', ')}`);
  const failed = r.comparisons.filter((c) => !c.ok).length;
  const worst = r.comparisons.reduce((a, c) => (c.relL2 > a.relL2 ? c : a), r.comparisons[0]);
  lines.push(`${r.comparisons.length - failed} of ${r.comparisons.length} tensors within tolerance (relL2 <= ${PARITY_TOLERANCE.relL2}, maxAbs <= ${PARITY_TOLERANCE.maxAbsFactor} x max(1, max|ref|)); worst relL2 ${worst ? `${worst.relL2.toExponential(2)} at ${worst.key}` : 'n/a'}: ${r.ok ? 'PASS' : 'FAIL'}`);
  return lines.join('\n');
}

/** What the JSON output adds to the report: where it ran and the backend's memory around it. */
export interface SegParityRunInfo {
  backend: string;
  place: 'node' | 'chromium';
  ms: number;
  memory: { before: BackendMemory; after: BackendMemory };
  adapter?: GpuAdapterInfo;
}

/** What the parity page's seg branch returns (src/verify/pages/parity_page.ts). */
export type SegPageResult = Pick<SegParityReport, 'ok' | 'comparisons' | 'notComputed' | 'masks' | 'labels' | 'boxes'> & SegParityRunInfo;
