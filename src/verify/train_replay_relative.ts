/**
 * Replays a relative self-training case (the paper's recipe) step by step from its data and
 * recorded random choices (crops, flips, jitter, blur, CutMix), with its teacher and frozen
 * DINOv2, and compares everything the case recorded.
 */
import { readFileSync } from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig, configFromJson } from '../config/depth';
import { RELATIVE_RECIPE } from '../config/train';
import { bindWeights, disposeWeights } from '../depth/depth_anything';
import { loadDinoV2 } from '../dinov2/vision_transformer';
import { TensorToWrite, entryToFloat32, parseSafetensors } from '../io/safetensors';
import { readGroundTruth } from '../node/eval/datasets';
import { decodeImage } from '../node/image';
import { RgbImage } from '../pipeline/rgb';
import { Perturbation, cutmix, cutmixMask, strongPerturb } from '../train/perturb';
import { RelativeBatch, cleanImage, frozenFeatures, labeledSample, pseudoLabels, relativeStep } from '../train/relative';
import { Planar, normalizeF32 } from '../train/transforms';
import { createTrainer, disposeTrainer } from '../train/trainer';
import { StateDict, StateDictReader } from '../weights/state_dict';
import { PARITY_TOLERANCE } from './compare';
import { ParityRow, TrainCase, exactRow, floats, ints, lossRow, modelConfigOf, relRow, toNchw } from './train_case';
import { DATA_TOLERANCE, ReplayReport, adamRows, gradRows, paramRows } from './train_replay_metric';

interface StepJson {
  labeled_flip: boolean[];
  crop_h_w_start: { labeled: number[][]; unlabeled: number[][] };
  unlabeled: Array<{
    jitter: { applied: boolean; order?: number[]; brightness?: number; contrast?: number; saturation?: number; hue?: number };
    blur: { applied: boolean; sigma?: number; kernel?: number };
    cutmix: { applied: boolean; partner?: number; y?: number; x?: number; h?: number; w?: number };
  }>;
}

/** A step's recorded choices for one unlabeled image as perturbation parameters. */
export function perturbationOf(u: StepJson['unlabeled'][number]): Perturbation {
  const p: Perturbation = {};
  if (u.jitter.applied) p.jitter = { order: u.jitter.order!, brightness: u.jitter.brightness!, contrast: u.jitter.contrast!, saturation: u.jitter.saturation!, hue: u.jitter.hue! };
  if (u.blur.applied) p.blur = { sigma: u.blur.sigma!, kernel: u.blur.kernel! };
  if (u.cutmix.applied) p.cutmix = { partner: u.cutmix.partner!, y: u.cutmix.y!, x: u.cutmix.x!, h: u.cutmix.h!, w: u.cutmix.w! };
  return p;
}

function frozenStateDict(dir: string, name: string): StateDict {
  const t = parseSafetensors(readFileSync(path.join(dir, 'frozen.safetensors')), `${name}/frozen.safetensors`);
  const sd: StateDict = new Map();
  for (const [k, e] of t.tensors) sd.set(`pretrained.${k}`, { shape: e.shape, data: entryToFloat32(e, t.source) });
  return sd;
}

const stack = (xs: Planar[]) => {
  const out = new Float32Array(xs.reduce((n, x) => n + x.data.length, 0));
  let o = 0;
  for (const x of xs) { out.set(x.data, o); o += x.data.length; }
  return out;
};

export async function replayRelative(c: TrainCase, opts: { steps?: number } = {}): Promise<ReplayReport> {
  const j = c.json as unknown as { student: Record<string, unknown>; teacher: Record<string, unknown>; frozen: Record<string, unknown>; alpha: number; batch: { img_size: number }; schedule: { total_iters: number }; optimizer: { groups: Array<{ lr: number }> }; data: Array<{ kind: string; image: string; depth_npy?: string }>; steps: StepJson[] };
  const cfg = modelConfigOf(j.student, c.name);
  const teacherCfg = modelConfigOf(j.teacher, `${c.name} teacher`);
  const frozenCfg: ModelConfig = configFromJson({ ...j.frozen, version: 'v1', encoder: 'vits' }, `${c.name} frozen`);
  const S = j.batch.img_size;
  const tol = c.json.precision.tolerances;
  const nSteps = Math.min(opts.steps ?? Infinity, j.steps.length);
  const read = (f: string) => decodeImage(path.join(c.dir, 'data', f));
  const labeledFiles = j.data.filter((d) => d.kind === 'labeled');
  const unlabeledFiles = j.data.filter((d) => d.kind === 'unlabeled');
  const labeled = await Promise.all(labeledFiles.map(async (d) => ({ rgb: await read(d.image), depth: await readGroundTruth(path.join(c.dir, 'data', d.depth_npy!), 1) })));
  const unlabeled: RgbImage[] = await Promise.all(unlabeledFiles.map((d) => read(d.image)));

  const teacherSd = parseSafetensors(readFileSync(path.join(c.dir, 'teacher.safetensors')), `${c.name}/teacher.safetensors`);
  const tsd: StateDict = new Map([...teacherSd.tensors].map(([k, e]) => [k, { shape: e.shape, data: entryToFloat32(e, teacherSd.source) }]));
  const teacher = bindWeights(tsd, teacherCfg, `${c.name}/teacher.safetensors`);
  const frozenReader = new StateDictReader(frozenStateDict(c.dir, c.name), `${c.name}/frozen.safetensors`);
  const frozen = tf.tidy(() => {
    const w = loadDinoV2(frozenReader, 'pretrained', frozenCfg);
    frozenReader.finish([/^pretrained\.mask_token$/]);
    return w as unknown as tf.TensorContainer;
  }) as unknown as ReturnType<typeof loadDinoV2>;
  const lr = j.optimizer.groups[0].lr;
  const t = createTrainer(c.weights, cfg, { lr, adamw: RELATIVE_RECIPE.adamw, groups: RELATIVE_RECIPE.groups, schedule: RELATIVE_RECIPE.schedule, totalSteps: j.schedule.total_iters });
  const rows: ParityRow[] = [];
  const losses: number[] = [];
  const numTensorsAfterStep: number[] = [];
  const computed: TensorToWrite[] = [];
  const lrs: number[] = [];
  const parts: Record<'labeled' | 'unlabeled' | 'feat' | 'total', number[]> = { labeled: [], unlabeled: [], feat: [], total: [] };
  const refLr = ints(c.steps, 'lr');
  try {
    for (let K = 1; K <= nSteps; K++) {
      const st = j.steps[K - 1];
      const p = `step.${K}`;
      const nL = labeled.length;
      const nU = unlabeled.length;
      const lab = labeled.map((l, i) => labeledSample(l.rgb, l.depth, S, st.crop_h_w_start.labeled[i][0], st.crop_h_w_start.labeled[i][1], st.labeled_flip[i], labeledFiles[i].image));
      rows.push(relRow(`${p}.labeled.depth`, 'input', Float32Array.from(lab.flatMap((l) => [...l.depth]).map((d) => (d === Infinity ? 1e30 : d))), floats(c.steps, `${p}.labeled.depth`).map((d) => (d === Infinity ? 1e30 : d)), DATA_TOLERANCE));
      rows.push(exactRow(`${p}.labeled.valid`, 'mask', lab.flatMap((l) => [...l.valid]), ints(c.steps, `${p}.labeled.valid`)));
      rows.push(relRow(`${p}.labeled.disparity`, 'input', Float32Array.from(lab.flatMap((l) => [...l.disparity])), floats(c.steps, `${p}.labeled.disparity`), DATA_TOLERANCE));
      const clean = unlabeled.map((u, i) => cleanImage(u, S, st.crop_h_w_start.unlabeled[i][0], st.crop_h_w_start.unlabeled[i][1]));
      rows.push(relRow(`${p}.unlabeled.clean`, 'input', toNchw(stack(clean), nU, S, S, 3), floats(c.steps, `${p}.unlabeled.clean`), DATA_TOLERANCE));
      const pseudo = await pseudoLabels(teacher, teacherCfg, stack(clean.map(normalizeF32)), nU, S);
      rows.push(relRow(`${p}.pseudo`, 'pred', Float32Array.from(pseudo.flatMap((x) => [...x])), floats(c.steps, `${p}.pseudo`), PARITY_TOLERANCE.relL2));
      const perturb = st.unlabeled.map(perturbationOf);
      const strong = clean.map((x, i) => strongPerturb(x, perturb[i]));
      rows.push(relRow(`${p}.unlabeled.strong`, 'input', toNchw(stack(strong), nU, S, S, 3), floats(c.steps, `${p}.unlabeled.strong`), DATA_TOLERANCE));
      const strongN = strong.map(normalizeF32);
      const masks = perturb.map((q) => cutmixMask(q.cutmix, S));
      rows.push(exactRow(`${p}.cutmix.mask`, 'mask', masks.flatMap((m) => [...m]), ints(c.steps, `${p}.cutmix.mask`)));
      const mixed = strongN.map((x, i) => (perturb[i].cutmix ? cutmix(x, strongN[perturb[i].cutmix!.partner], masks[i]) : x));
      const input = stack([...lab.map((l) => normalizeF32(l.clean)), ...mixed]);
      rows.push(relRow(`${p}.input`, 'input', toNchw(input, nL + nU, S, S, 3), floats(c.steps, `${p}.input`), DATA_TOLERANCE));
      const fz = await frozenFeatures(frozen, frozenCfg, stack(mixed), nU, S);
      rows.push(relRow(`${p}.feat.frozen`, 'pred', fz.data, floats(c.steps, `${p}.feat.frozen`), PARITY_TOLERANCE.relL2));
      const batch: RelativeBatch = {
        size: S, input, labeled: lab.map((l) => ({ disparity: l.disparity, valid: l.valid })), pseudo,
        cutmix: perturb.map((q, i) => (q.cutmix ? { partner: q.cutmix.partner, mask: masks[i] } : undefined)),
        frozen: fz.data, frozenShape: fz.shape,
      };
      const r = await relativeStep(t, batch, j.alpha, K === 1 ? async (grads) => { rows.push(...await gradRows(c, grads, computed)); } : undefined);
      lrs.push(...r.lrs);
      parts.labeled.push(r.parts.labeled); parts.unlabeled.push(r.parts.unlabeled); parts.feat.push(r.parts.feat); parts.total.push(r.loss);
      computed.push({ name: `${p}.pred`, shape: [nL + nU, S, S], data: r.pred }, { name: `${p}.input`, shape: [nL + nU, 3, S, S], data: toNchw(input, nL + nU, S, S, 3) });
      numTensorsAfterStep.push(tf.memory().numTensors);
      losses.push(r.loss);
      rows.push(relRow(`${p}.pred`, 'pred', r.pred, floats(c.steps, `${p}.pred`), PARITY_TOLERANCE.relL2));
      rows.push(relRow(`${p}.feat.student`, 'pred', r.studentFeat, floats(c.steps, `${p}.feat.student`), PARITY_TOLERANCE.relL2));
      rows.push(relRow(`${p}.feat.cos`, 'pred', r.cos, floats(c.steps, `${p}.feat.cos`), PARITY_TOLERANCE.relL2));
      rows.push(exactRow(`${p}.feat.keep`, 'mask', r.keep, ints(c.steps, `${p}.feat.keep`)));
      const vec = (key: string, ours: number[]) => floats(c.steps, key).forEach((ref, i) => rows.push(lossRow(`${key}[${i}]`, ours[i], ref, tol.loss)));
      vec(`${p}.loss.labeled_per_image`, r.labeledPerImage);
      vec(`${p}.loss.unlabeled_per_image`, r.unlabeledPerImage);
      vec(`${p}.loss.unlabeled_parts`, r.unlabeledParts.flat());
      vec(`${p}.stats.labeled`, r.labeledRegions.flatMap((x) => x.stats));
      const uStats = r.unlabeledRegions.flatMap(([a, b]) => [...a.stats, ...(b ? b.stats : [NaN, NaN, NaN, NaN])]);
      floats(c.steps, `${p}.stats.unlabeled`).forEach((ref, i) => {
        if (Number.isNaN(ref)) rows.push(exactRow(`${p}.stats.unlabeled[${i}] (absent region)`, 'mask', [Number.isNaN(uStats[i]) ? 1 : 0], [1]));
        else rows.push(lossRow(`${p}.stats.unlabeled[${i}]`, uStats[i], ref, tol.loss));
      });
      // (image, region, position in the region's masked vector, flat pixel, region size), labeled first.
      const medians: number[] = [];
      r.labeledRegions.forEach((x, i) => medians.push(i, 0, x.median.position, x.median.pixel, x.median.count));
      r.unlabeledRegions.forEach(([a, b], jj) => {
        medians.push(nL + jj, 0, a.median.position, a.median.pixel, a.median.count);
        if (b) medians.push(nL + jj, 1, b.median.position, b.median.pixel, b.median.count);
      });
      rows.push(exactRow(`${p}.median.pred`, 'median', medians, ints(c.steps, `${p}.median.pred`)));
      for (const [k, v] of [['labeled', r.parts.labeled], ['unlabeled', r.parts.unlabeled], ['feat', r.parts.feat], ['total', r.loss]] as const) {
        rows.push(lossRow(`loss.${k}[${K - 1}]`, v, floats(c.steps, `loss.${k}`)[K - 1], tol.loss));
      }
      rows.push(lossRow(`lr[${K - 1}][0]`, r.lrs[0], refLr[2 * (K - 1)], 1e-12), lossRow(`lr[${K - 1}][1]`, r.lrs[1], refLr[2 * (K - 1) + 1], 1e-12));
      if (K === 1) rows.push(...await adamRows(c, t, computed));
      if (c.params.tensors.has(`param.${K}.pretrained.cls_token`)) rows.push(...await paramRows(c, t, K, computed));
    }
  } finally {
    disposeTrainer(t);
    disposeWeights(teacher);
    tf.dispose(frozen as unknown as tf.TensorContainer);
  }
  for (const [k, v] of Object.entries(parts)) computed.push({ name: `loss.${k}`, shape: [v.length], data: Float32Array.from(v) });
  computed.push({ name: 'lr', shape: [lrs.length / 2, 2], data: Float32Array.from(lrs) });
  return { case: c.name, backend: tf.getBackend(), rows, losses, numTensorsAfterStep, computed };
}
