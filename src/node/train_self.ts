/**
 * The self-training recipe's data on disk (the V1 paper, Stage 2): a labeled set (the same file
 * lists or folders as metric fine-tuning), a folder of unlabeled images, a teacher checkpoint and
 * the frozen DINOv2 (the student's encoder as it starts). One batch = `batch` labeled + 2 x `batch`
 * unlabeled images; every random choice (crops, flips, jitter, blur, CutMix) from the run's
 * generator, through the same pure transforms the fixture replay checks.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig } from '../config/depth';
import { RelativeRecipe } from '../config/train';
import { DepthAnythingWeights, bindWeights, disposeWeights } from '../depth/depth_anything';
import { DinoV2Weights, loadDinoV2 } from '../dinov2/vision_transformer';
import { targetSize } from '../pipeline/preprocess';
import { cutmix, cutmixMask, strongPerturb } from '../train/perturb';
import { RelativeBatch, RelativeStepResult, cleanImage, frozenFeatures, labeledSample, pseudoLabels, relativeStep } from '../train/relative';
import { Rng, coin, samplePerturbation, sampleCrop } from '../train/rng';
import { Planar, TrainDataError, normalizeF32 } from '../train/transforms';
import { Trainer } from '../train/trainer';
import { StateDict, StateDictReader } from '../weights/state_dict';
import { DepthSample, IMAGE_EXTENSIONS } from './eval/datasets';
import { decodeImage } from './image';
import { readTrainSample } from './train_data';

/** The image files of a folder (not recursive), sorted; an empty folder is an error. */
export async function listUnlabeledImages(dir: string): Promise<string[]> {
  const stat = await fs.stat(dir).catch(() => undefined);
  if (!stat?.isDirectory()) throw new TrainDataError(`${dir}: the unlabeled images must be a folder (no such folder)`);
  const files = (await fs.readdir(dir)).filter((f) => IMAGE_EXTENSIONS.includes(path.extname(f).slice(1).toLowerCase())).sort();
  if (!files.length) throw new TrainDataError(`${dir}: an empty folder: no unlabeled images (${IMAGE_EXTENSIONS.join(', ')})`);
  return files.map((f) => path.join(dir, f));
}

const describe = (c: ModelConfig) => `${c.version} ${c.encoder}${c.zoe ? ' metric (ZoeDepth)' : c.maxDepth !== undefined ? ` metric (max_depth ${c.maxDepth})` : ' relative'}`;

/** The teacher must predict what the loss compares with: relative disparity, at the student's patch size. */
export function checkTeacher(teacher: ModelConfig, student: ModelConfig, source: string): void {
  if (teacher.zoe || teacher.maxDepth !== undefined) {
    throw new TrainDataError(`--teacher ${source}: a ${describe(teacher)} model; self-training needs a relative (disparity) teacher such as Depth Anything V1/V2 relative`);
  }
  if (teacher.patchSize !== student.patchSize) {
    throw new TrainDataError(`--teacher ${source}: patch size ${teacher.patchSize}, the student's is ${student.patchSize}: they must see the same crops`);
  }
}

export interface SelfTrainingModels {
  teacher: DepthAnythingWeights;
  teacherCfg: ModelConfig;
  frozen: DinoV2Weights;
}

/** Binds the teacher and the frozen encoder (the `pretrained.*` part of the student's initial weights). */
export function bindSelfTrainingModels(teacherSd: StateDict, teacherCfg: ModelConfig, teacherSource: string, initial: StateDict, cfg: ModelConfig): SelfTrainingModels {
  const teacher = bindWeights(teacherSd, teacherCfg, teacherSource);
  const enc: StateDict = new Map([...initial].filter(([k]) => k.startsWith('pretrained.')));
  const reader = new StateDictReader(enc, 'the frozen DINOv2 (the student\'s initial encoder)');
  const frozen = tf.tidy(() => {
    const w = loadDinoV2(reader, 'pretrained', cfg);
    reader.finish([/^pretrained\.mask_token$/]);
    return w as unknown as tf.TensorContainer;
  }) as unknown as DinoV2Weights;
  return { teacher, teacherCfg, frozen };
}

export function disposeSelfTrainingModels(m: SelfTrainingModels): void {
  disposeWeights(m.teacher);
  tf.dispose(m.frozen as unknown as tf.TensorContainer);
}

const stack = (xs: Planar[]) => {
  const out = new Float32Array(xs.reduce((n, x) => n + x.data.length, 0));
  let o = 0;
  for (const x of xs) { out.set(x.data, o); o += x.data.length; }
  return out;
};

/** One self-training step on labeled `samples` and unlabeled `images`, choices drawn from `rng`. */
export async function selfTrainingStep(t: Trainer, m: SelfTrainingModels, samples: DepthSample[], images: string[], rng: Rng, recipe: RelativeRecipe, depthScale: number,
  inspect?: (grads: Map<string, tf.Tensor>) => void | Promise<void>): Promise<RelativeStepResult> {
  const S = recipe.cropSize;
  const crop = (w: number, h: number) => { const s = targetSize(w, h, S); return sampleCrop(rng, s.height, s.width, S); };
  const lab = [];
  for (const s of samples) {
    const { rgb, depth } = await readTrainSample(s, depthScale);
    const [top, left] = crop(rgb.width, rgb.height);
    lab.push(labeledSample(rgb, depth, S, top, left, coin(rng, recipe.flipP), s.depth));
  }
  const clean: Planar[] = [];
  for (const f of images) {
    const rgb = await decodeImage(f);
    const [top, left] = crop(rgb.width, rgb.height);
    clean.push(cleanImage(rgb, S, top, left));
  }
  const nU = clean.length;
  const pseudo = await pseudoLabels(m.teacher, m.teacherCfg, stack(clean.map(normalizeF32)), nU, S);
  const perturb = clean.map((_, j) => samplePerturbation(rng, S, (j + 1) % nU, recipe.perturbations));
  const strongN = clean.map((x, i) => normalizeF32(strongPerturb(x, perturb[i])));
  const masks = perturb.map((q) => cutmixMask(q.cutmix, S));
  const mixed = strongN.map((x, i) => (perturb[i].cutmix ? cutmix(x, strongN[perturb[i].cutmix!.partner], masks[i]) : x));
  const fz = await frozenFeatures(m.frozen, t.cfg, stack(mixed), nU, S);
  const batch: RelativeBatch = {
    size: S, input: stack([...lab.map((l) => normalizeF32(l.clean)), ...mixed]),
    labeled: lab.map((l) => ({ disparity: l.disparity, valid: l.valid })), pseudo,
    cutmix: perturb.map((q, i) => (q.cutmix ? { partner: q.cutmix.partner, mask: masks[i] } : undefined)),
    frozen: fz.data, frozenShape: fz.shape,
  };
  return relativeStep(t, batch, recipe.alpha, inspect);
}
