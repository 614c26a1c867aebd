/**
 * The V1 paper's relative-depth self-training step (arXiv:2401.10891, sections 3.1-3.3; what the
 * paper leaves open as in ../shared/fixtures/train/README.md):
 *   batch = [labeled..., CutMix(strong(unlabeled))...]; pred = student(batch)
 *   L_l = mean over labeled images of rho(pred, disparity) on valid pixels
 *   L_u = mean over unlabeled images of rho(pred, T(clean)), or with CutMix
 *         a rho_M(pred, T(partner)) + (1 - a) rho_{1-M}(pred, T(own)), a = |M| / (H W)
 *   L_feat = mean over kept tokens of 1 - cos(student, frozen DINOv2), kept = cos <= alpha
 *   total = (L_l + L_u + L_feat) / 3
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig } from '../config/depth';
import { DepthAnythingWeights, forward } from '../depth/depth_anything';
import { DinoV2Weights, getIntermediateLayers } from '../dinov2/vision_transformer';
import { MedianPick, RhoResult, affineInvariantLoss, cutmixWeighted, featureAlignmentLoss } from './losses';
import { DepthMap, Planar, TrainDataError, asPlanar, checkSameSize, crop, flipHorizontal, resizeImage, resizeNearest } from './transforms';
import { Trainer, applyGradients, computeGradients, disposeKept } from './trainer';
import { RgbImage } from '../pipeline/rgb';

const f = Math.fround;

/** Resize (lower bound, as the metric pipeline) without normalising, crop, clamp to [0, 1], float32. */
export function cleanImage(img: RgbImage, size: number, top: number, left: number): Planar {
  return clampCrop(resizeImage(img, size), size, top, left);
}

function clampCrop(resized: Planar<Float64Array>, size: number, top: number, left: number): Planar {
  const c = crop(resized, top, left, size);
  return { ...c, data: Float32Array.from(c.data, (x) => (x < 0 ? 0 : x > 1 ? 1 : x)) };
}

export interface LabeledSample {
  clean: Planar;
  /** Metres as stored (0 = no measurement, inf = sky), cropped and flipped. */
  depth: Float32Array;
  valid: Uint8Array;
  /** 1 / depth (sky 0), min-max normalised over the valid pixels, 0 elsewhere. */
  disparity: Float32Array;
}

/** Normalised disparity of a depth map (eq. 1's d: 1/t scaled to 0..1 per map; sky 0; invalid = 0 m). */
export function disparityTarget(depth: Float32Array): { valid: Uint8Array; disparity: Float32Array } {
  const valid = Uint8Array.from(depth, (d) => (d > 0 ? 1 : 0));
  const disp = Float32Array.from(depth, (d, i) => (valid[i] ? (d === Infinity ? 0 : f(1 / d)) : 0));
  let lo = Infinity;
  let hi = -Infinity;
  disp.forEach((v, i) => { if (valid[i]) { lo = Math.min(lo, v); hi = Math.max(hi, v); } });
  if (lo === Infinity) throw new TrainDataError('a labeled depth map without any valid pixel (all 0)');
  const range = f(hi - lo);
  return { valid, disparity: disp.map((v, i) => (valid[i] ? (range > 0 ? f(f(v - lo) / range) : 0) : 0)) };
}

export function labeledSample(img: RgbImage, depth: DepthMap, size: number, top: number, left: number, flip: boolean, source = 'labeled image'): LabeledSample {
  checkSameSize(img, depth, source);
  const resized = resizeImage(img, size);
  let clean = clampCrop(resized, size, top, left);
  let d = crop(asPlanar(resizeNearest(depth, resized.width, resized.height)), top, left, size);
  if (flip) { clean = flipHorizontal(clean); d = flipHorizontal(d); }
  return { clean, depth: d.data, ...disparityTarget(d.data) };
}

export interface RelativeBatch {
  size: number;
  /** [Nl + Nu, S, S, 3], normalised: the labeled images, then the mixed unlabeled ones. */
  input: Float32Array;
  labeled: Array<{ disparity: Float32Array; valid: Uint8Array }>;
  /** The teacher's prediction on each clean unlabeled image, [S * S] each. */
  pseudo: Float32Array[];
  /** Per unlabeled image: its CutMix partner and M (absent: no CutMix). */
  cutmix: Array<{ partner: number; mask: Uint8Array } | undefined>;
  /** The frozen encoder's last-block normalised patch tokens on the mixed unlabeled images, [Nu, N, C]. */
  frozen: Float32Array;
  frozenShape: [number, number, number];
}

/** One image's loss record: per region (t_pred, s_pred, t_target, s_target) and the median picked. */
export interface RegionRecord {
  rho: number;
  stats: [number, number, number, number];
  median: MedianPick;
}

export interface RelativeStepResult {
  loss: number;
  lrs: [number, number];
  parts: { labeled: number; unlabeled: number; feat: number };
  labeledPerImage: number[];
  unlabeledPerImage: number[];
  /** Per unlabeled image (rho_M, rho_{1-M}, a) or (rho, 0, 1). */
  unlabeledParts: Array<[number, number, number]>;
  labeledRegions: RegionRecord[];
  /** Per unlabeled image, region 0 (M or all) and region 1 (1 - M, absent without CutMix). */
  unlabeledRegions: Array<[RegionRecord, RegionRecord | undefined]>;
  pred: Float32Array;
  studentFeat: Float32Array;
  cos: Float32Array;
  keep: Uint8Array;
}

/** The teacher's pseudo labels (eval, no gradient) on normalised clean images [N, S, S, 3]. */
export async function pseudoLabels(teacher: DepthAnythingWeights, cfg: ModelConfig, normalised: Float32Array, n: number, size: number): Promise<Float32Array[]> {
  const t = tf.tidy(() => forward(teacher, cfg, tf.tensor4d(normalised, [n, size, size, 3])));
  try {
    const out = (await t.data()) as Float32Array;
    return Array.from({ length: n }, (_, j) => out.slice(j * size * size, (j + 1) * size * size));
  } finally {
    t.dispose();
  }
}

/** The frozen DINOv2's last-block normalised patch tokens (`get_intermediate_layers(x, 1)`). */
export async function frozenFeatures(w: DinoV2Weights, cfg: ModelConfig, x: Float32Array, n: number, size: number): Promise<{ data: Float32Array; shape: [number, number, number] }> {
  const last = cfg.depth - 1;
  const one: ModelConfig = { ...cfg, intermediateLayers: [last, last, last, last] };
  const patch = tf.tidy(() => getIntermediateLayers(tf.tensor4d(x, [n, size, size, 3]), w, one)[0].patch);
  try {
    return { data: Float32Array.from((await patch.data()) as Float32Array), shape: patch.shape as [number, number, number] };
  } finally {
    patch.dispose();
  }
}

const num = (t: tf.Tensor) => t.dataSync()[0];
const record = (r: RhoResult): RegionRecord => ({ rho: num(r.loss), stats: [num(r.pred.t), num(r.pred.s), num(r.target.t), num(r.target.s)], median: r.pred.median });

/** One self-training step of the student (the trainer's model). */
export async function relativeStep(t: Trainer, batch: RelativeBatch, alpha: number, inspect?: (grads: Map<string, tf.Tensor>) => void | Promise<void>): Promise<RelativeStepResult> {
  const S = batch.size;
  const HW = S * S;
  const nL = batch.labeled.length;
  const nU = batch.pseudo.length;
  const B = nL + nU;
  if (batch.input.length !== B * HW * 3) throw new TrainDataError(`relative step: input holds ${batch.input.length} values, ${B} images of ${S}x${S}x3 expected`);
  if (tf.getBackend() === 'webgpu' && typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas === 'undefined') {
    // rho's median element is picked from the prediction inside the differentiated function: a
    // synchronous read, which tfjs-webgpu does only through OffscreenCanvas (absent in Node).
    throw new Error('the self-training step reads the prediction synchronously (median picks) and tfjs-webgpu cannot in Node: use --backend wasm, cpu or tensorflow, or webgpu in a browser');
  }
  const x = tf.tensor4d(batch.input, [B, S, S, 3]);
  const frozen = tf.tensor3d(batch.frozen, batch.frozenShape);
  const rec: Partial<RelativeStepResult> = {};
  const featKey = 'features.3.patch'; // the 4th map the head reads: the last block's normalised tokens
  try {
    const { loss, grads, kept } = await computeGradients(t, (w) => {
      let feat: tf.Tensor3D | undefined;
      const pred = forward(w, t.cfg, x, (name, ten) => { if (name === featKey && !feat) feat = tf.keep(ten as tf.Tensor3D); });
      if (!feat) throw new Error('relative step: the student did not expose its last-block tokens');
      const predData = pred.dataSync() as Float32Array;
      const flat = (b: number) => tf.reshape(tf.slice(pred, [b, 0, 0], [1, S, S]), [HW]) as tf.Tensor1D;
      const all = new Uint8Array(HW).fill(1);
      const labeledRho = batch.labeled.map((l, i) => affineInvariantLoss(flat(i), predData.subarray(i * HW, (i + 1) * HW), l.disparity, l.valid));
      const unl = batch.pseudo.map((own, j) => {
        const b = nL + j;
        const values = predData.subarray(b * HW, (b + 1) * HW);
        const cm = batch.cutmix[j];
        if (!cm) {
          const r = affineInvariantLoss(flat(b), values, own, all);
          return { loss: r.loss, parts: [r, undefined] as const, a: 1 };
        }
        const inM = cm.mask;
        const outM = Uint8Array.from(inM, (m) => 1 - m);
        let area = 0;
        for (const m of inM) area += m;
        const a = area / HW;
        const rM = affineInvariantLoss(flat(b), values, batch.pseudo[cm.partner], inM);
        const rRest = affineInvariantLoss(flat(b), values, own, outM);
        return { loss: cutmixWeighted(rM.loss, rRest.loss, a), parts: [rM, rRest] as const, a };
      });
      const lL = tf.div(tf.addN(labeledRho.map((r) => r.loss)), nL) as tf.Scalar;
      const lU = tf.div(tf.addN(unl.map((u) => u.loss)), nU) as tf.Scalar;
      const fs = tf.slice(feat, [nL, 0, 0], [nU, -1, -1]) as tf.Tensor3D;
      const fa = featureAlignmentLoss(fs, frozen, alpha);
      const total = tf.div(tf.add(tf.add(lL, lU), fa.loss), 3) as tf.Scalar;
      rec.parts = { labeled: num(lL), unlabeled: num(lU), feat: num(fa.loss) };
      rec.labeledPerImage = labeledRho.map((r) => num(r.loss));
      rec.unlabeledPerImage = unl.map((u) => num(u.loss));
      rec.unlabeledParts = unl.map((u) => (u.parts[1] ? [num(u.parts[0].loss), num(u.parts[1].loss), u.a] : [num(u.parts[0].loss), 0, 1]));
      rec.labeledRegions = labeledRho.map(record);
      rec.unlabeledRegions = unl.map((u) => [record(u.parts[0]), u.parts[1] ? record(u.parts[1]) : undefined]);
      rec.cos = fa.cos;
      rec.keep = fa.keep;
      rec.pred = Float32Array.from(predData);
      rec.studentFeat = Float32Array.from(fs.dataSync() as Float32Array);
      return { loss: total, keep: { feat } };
    });
    disposeKept(kept);
    if (!Number.isFinite(loss)) {
      tf.dispose([...grads.values()]);
      const p = rec.parts!;
      throw new Error(`step ${t.step + 1}: the total loss is ${loss} (loss.labeled ${p.labeled}, loss.unlabeled ${p.unlabeled}, loss.feat ${p.feat}); the parameters are left as they were`);
    }
    try { await inspect?.(grads); } catch (e) { tf.dispose([...grads.values()]); throw e; }
    const lrs = applyGradients(t, grads);
    return { ...(rec as RelativeStepResult), loss, lrs };
  } finally {
    x.dispose();
    frozen.dispose();
  }
}
