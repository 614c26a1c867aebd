/**
 * `train(options)`: the training loop of both recipes in Node, the library's API and what
 * `depth-anything train` runs.
 *
 * - metric: the official metric_depth/train.py (shuffled batches, drop_last; a random crop per
 *   sample and one flip per batch; SiLog; AdamW, encoder lr and head 10x; poly schedule);
 * - self-training: the V1 paper's Stage 2 (labeled + 2x unlabeled images per batch, teacher pseudo
 *   labels, strong perturbations and CutMix, feature alignment with the frozen initial encoder;
 *   linear schedule).
 *
 * Every random choice comes from one seeded generator. A checkpoint (parameters, AdamW's moments
 * and steps, the generator's state, the position in the epoch) is written atomically every
 * `checkpointEvery` steps, and `resume` goes on from it exactly. At the end of each epoch the
 * evaluation harness (src/node/eval) scores the model on `evalData`. The result is written as our
 * safetensors and as an official-format `.pth`. A non-finite loss or gradient stops the run naming
 * the step and the tensor, before the optimiser touches the parameters; the last checkpoint stays.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig, configToJson } from '../config/depth';
import { METRIC_RECIPE, MetricRecipe, RELATIVE_RECIPE, RelativeRecipe } from '../config/train';
import { metricBatch, metricStep } from '../train/metric';
import { readParams } from '../train/params';
import { SeededRng, coin, permutation, sampleCrop, seededRng } from '../train/rng';
import { Trainer, createTrainer, disposeTrainer } from '../train/trainer';
import { TrainDataError, metricSample } from '../train/transforms';
import { targetSize } from '../pipeline/preprocess';
import { StateDict } from '../weights/state_dict';
import { writeFileAtomic } from './atomic';
import { DepthAnything } from './depth_anything';
import { DATASET_PRESETS, DatasetKind, DepthSample, listSamples } from './eval/datasets';
import { DEFAULT_MIN_VALID_PIXELS, EvalReport, EvalSettings, evaluateDataset } from './eval/run';
import { writeSafetensorsFile } from './safetensors_file';
import { LoadedCheckpoint, TrainPosition, readTrainCheckpoint, restoreAdam, writeTrainCheckpoint } from './train_checkpoint';
import { listTrainSamples, readTrainSample } from './train_data';
import { writeTorchCheckpointFile } from './train_pth';
import { SelfTrainingModels, bindSelfTrainingModels, checkTeacher, disposeSelfTrainingModels, listUnlabeledImages, selfTrainingStep } from './train_self';

export type TrainRecipeName = 'metric' | 'self-training';

export interface TrainOptions {
  recipe: TrainRecipeName;
  /** Initial weights (official names) and their configuration. With `resume`, the frozen encoder of self-training still comes from here. */
  weights: StateDict;
  config: ModelConfig;
  /** Labeled data: a file list ("IMAGE DEPTH" lines, VKITTI2 / Hypersim format) or a folder (image/ + depth/). */
  data: string;
  /** self-training: a folder of unlabeled images. */
  unlabeled?: string;
  /** self-training: the teacher (a relative model). */
  teacher?: { stateDict: StateDict; config: ModelConfig; source: string };
  /** The result, our safetensors (written at the end, atomically). */
  out: string;
  /** The result as an official `.pth` state dict too: default `out` with `.pth`; false for none. */
  pth?: string | false;
  epochs: number;
  /** Labeled images per step (self-training adds twice as many unlabeled ones). */
  batch: number;
  seed: number;
  /** 16-bit PNG value per metre (VKITTI2: 100, i.e. centimetres); .npy files are metres. */
  depthScale: number;
  /** Overrides of the recipe (crop, lr, depth range, ...). */
  metric?: Partial<MetricRecipe>;
  selfTraining?: Partial<RelativeRecipe>;
  /** Training checkpoint file: default `out` with `.checkpoint.safetensors`. */
  checkpoint?: string;
  /** Write the checkpoint every this many steps (and when stopped by `signal`). */
  checkpointEvery?: number;
  /** Go on from `checkpoint` (or this file). */
  resume?: boolean | string;
  /** Evaluate at the end of each epoch on this dataset (the `eval` command's harness). */
  evalData?: string;
  evalDataset?: DatasetKind;
  /** Overrides of the evaluation settings (protocol, depth range, input size: default the crop). */
  evalSettings?: Partial<EvalSettings>;
  /** A JSON file rewritten (atomically) after every epoch and checkpoint with the steps' and epochs' metrics (a resumed run goes on with it). */
  metricsFile?: string;
  /** Stops between two steps, after writing the checkpoint. */
  signal?: AbortSignal;
  onStep?: (m: StepMetrics) => void;
  onEpoch?: (m: EpochMetrics) => void;
}

export interface StepMetrics {
  step: number;
  epoch: number;
  totalSteps: number;
  loss: number;
  /** self-training: the three losses averaged into `loss`. */
  parts?: { labeled: number; unlabeled: number; feat: number };
  /** The encoder's and the head's learning rates this step ran with. */
  lrs: [number, number];
  /** Seconds for this step (data, forward, backward, optimiser) and its inverse. */
  seconds: number;
  stepsPerSecond: number;
}

export interface EpochMetrics {
  epoch: number;
  step: number;
  /** The evaluation harness's mean metrics and counts (absent without `evalData`). */
  eval?: Pick<EvalReport, 'mean' | 'counts'> & { protocol: string };
}

export interface TrainResult {
  steps: StepMetrics[];
  epochs: EpochMetrics[];
  /** True when `signal` stopped the run (the checkpoint holds where). */
  stopped: boolean;
  /** The files written. */
  files: string[];
}

/** A non-finite loss or gradient: the run stopped before the optimiser step. */
export class TrainDivergedError extends Error {
  constructor(message: string) { super(message); this.name = 'TrainDivergedError'; }
}

const withExt = (file: string, ext: string) => path.join(path.dirname(file), `${path.basename(file, path.extname(file))}${ext}`);

/** The first gradient holding NaN or inf (one read for all of them: sums of |g|). */
export async function firstNonFiniteGrad(grads: Map<string, tf.Tensor>): Promise<string | undefined> {
  const names = [...grads.keys()];
  if (!names.length) return undefined;
  const sums = tf.tidy(() => tf.stack(names.map((n) => tf.sum(tf.abs(grads.get(n)!)))));
  const v = (await sums.data()) as Float32Array;
  sums.dispose();
  const i = v.findIndex((x) => !Number.isFinite(x));
  return i < 0 ? undefined : names[i];
}

export async function train(o: TrainOptions): Promise<TrainResult> {
  const self = o.recipe === 'self-training';
  if (o.recipe !== 'metric' && !self) throw new TrainDataError(`unknown recipe "${o.recipe}": metric or self-training`);
  const checkpointFile = o.checkpoint ?? withExt(o.out, '.checkpoint.safetensors');
  const resumeFile = typeof o.resume === 'string' ? o.resume : o.resume ? checkpointFile : undefined;
  const resumed: LoadedCheckpoint | undefined = resumeFile ? await readTrainCheckpoint(resumeFile) : undefined;
  const cfg = resumed?.config ?? o.config;
  const metricRecipe: MetricRecipe = { ...METRIC_RECIPE, ...(cfg.maxDepth !== undefined ? { maxDepth: cfg.maxDepth } : {}), ...o.metric };
  const selfRecipe: RelativeRecipe = { ...RELATIVE_RECIPE, ...o.selfTraining };
  const recipe = self ? selfRecipe : metricRecipe;
  if (!self && cfg.maxDepth === undefined) throw new TrainDataError('metric fine-tuning needs a metric model (V2 metric: sigmoid x max_depth); this configuration is relative');
  if (self && (cfg.maxDepth !== undefined || cfg.zoe)) throw new TrainDataError('self-training trains a relative (disparity) student; these weights are a metric model (use --recipe metric)');
  if (self && !o.unlabeled) throw new TrainDataError('self-training needs a folder of unlabeled images (--unlabeled)');
  if (self && !o.teacher) throw new TrainDataError('self-training needs a teacher checkpoint (--teacher)');
  if (self) checkTeacher(o.teacher!.config, cfg, o.teacher!.source);

  const samples = await listTrainSamples(o.data);
  const images = self ? await listUnlabeledImages(o.unlabeled!) : [];
  const perEpoch = Math.floor(samples.length / o.batch);
  if (perEpoch === 0) throw new TrainDataError(`${o.data}: ${samples.length} sample(s), fewer than one batch of ${o.batch}`);
  const totalSteps = o.epochs * perEpoch;
  const evalSamples: DepthSample[] | undefined = o.evalData ? await listSamples(o.evalDataset ?? 'folder', o.evalData) : undefined;
  const settings = { recipe: o.recipe, batch: o.batch, crop: recipe.cropSize, lr: recipe.lr, epochs: o.epochs, samples: samples.length, unlabeled: images.length, seed: o.seed };
  if (resumed) {
    const diff = Object.entries(settings).filter(([k, v]) => resumed.pos.settings[k] !== v);
    if (diff.length) throw new TrainDataError(`--resume: ${resumeFile} was written by a run with ${diff.map(([k]) => `${k} ${resumed.pos.settings[k]}`).join(', ')}; this one has ${diff.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }

  const rng: SeededRng = seededRng(resumed ? resumed.pos.rng : o.seed);
  const t: Trainer = createTrainer(resumed?.weights ?? o.weights, cfg, { lr: recipe.lr, adamw: recipe.adamw, groups: recipe.groups, schedule: recipe.schedule, totalSteps });
  let models: SelfTrainingModels | undefined;
  const steps: StepMetrics[] = [];
  const epochs: EpochMetrics[] = [];
  const files: string[] = [];
  let lastCheckpoint: number | undefined = resumed?.pos.step;
  // A resumed run's metrics file goes on from what the stopped run wrote (up to the checkpoint's step).
  const prior = resumed && o.metricsFile ? await priorMetrics(o.metricsFile, resumed.pos.step) : { steps: [], epochs: [] };
  const metricsJson = () => `${JSON.stringify({ steps: [...prior.steps, ...steps], epochs: [...prior.epochs, ...epochs] }, null, 1)}\n`;
  try {
    if (resumed) restoreAdam(t, resumed);
    if (self) models = bindSelfTrainingModels(o.teacher!.stateDict, o.teacher!.config, o.teacher!.source, o.weights, cfg);
    const checkpoint = async (epoch: number, batchInEpoch: number, orders: number[][]) => {
      const pos: TrainPosition = { recipe: o.recipe, step: t.step, totalSteps, epoch, batchInEpoch, orders, rng: rng.state(), settings };
      await writeTrainCheckpoint(checkpointFile, t, pos);
      lastCheckpoint = t.step;
      if (o.metricsFile) await writeFileAtomic(o.metricsFile, metricsJson());
    };
    const kept = () => (lastCheckpoint !== undefined ? `the last checkpoint ${checkpointFile} (step ${lastCheckpoint}) is kept` : 'no checkpoint was written (see --checkpoint-every)');
    const nonFinite = async (grads: Map<string, tf.Tensor>) => {
      const bad = await firstNonFiniteGrad(grads);
      if (bad) throw new TrainDivergedError(`step ${t.step + 1}: the gradient of ${bad} holds NaN or inf; the parameters were not updated; ${kept()}`);
    };
    let epoch = resumed?.pos.epoch ?? 0;
    let i = resumed?.pos.batchInEpoch ?? 0;
    let orders: number[][] = resumed?.pos.orders ?? [];
    let stopped = false;
    for (; epoch < o.epochs && !stopped; epoch++, i = 0, orders = []) {
      if (!orders.length) orders = self ? [permutation(rng, samples.length), permutation(rng, images.length)] : [permutation(rng, samples.length)];
      for (; i < perEpoch; i++) {
        if (o.signal?.aborted) {
          await checkpoint(epoch, i, orders);
          stopped = true;
          break;
        }
        const t0 = Date.now();
        const batchSamples = orders[0].slice(i * o.batch, (i + 1) * o.batch).map((k) => samples[k]);
        let loss: number;
        let lrs: [number, number];
        let parts: StepMetrics['parts'];
        try {
          if (self) {
            const nU = 2 * o.batch;
            const imgs = Array.from({ length: nU }, (_, k) => images[orders[1][(i * nU + k) % images.length]]);
            const r = await selfTrainingStep(t, models!, batchSamples, imgs, rng, selfRecipe, o.depthScale, nonFinite);
            ({ loss, lrs, parts } = r);
          } else {
            const items = await Promise.all(batchSamples.map((s) => readTrainSample(s, o.depthScale)));
            const batch = metricBatch(items.map((s, k) => {
              const { width, height } = targetSize(s.rgb.width, s.rgb.height, metricRecipe.cropSize); // the size Crop sees
              const [top, left] = sampleCrop(rng, height, width, metricRecipe.cropSize);
              return metricSample(s.rgb, s.depth, metricRecipe.cropSize, top, left, metricRecipe.validMaxDepth, batchSamples[k].depth);
            }), coin(rng, metricRecipe.flipP), metricRecipe);
            ({ loss, lrs } = await metricStep(t, batch, metricRecipe, nonFinite));
          }
        } catch (e) {
          if (e instanceof TrainDivergedError) throw e;
          const msg = (e as Error).message;
          if (/ loss is (NaN|-?Infinity)/.test(msg)) throw new TrainDivergedError(`${msg.replace(/; the parameters are left as they were$/, '')}; the parameters were not updated; ${kept()}`);
          throw e;
        }
        const seconds = (Date.now() - t0) / 1000;
        const m: StepMetrics = { step: t.step, epoch, totalSteps, loss, ...(parts ? { parts } : {}), lrs, seconds, stepsPerSecond: 1 / Math.max(seconds, 1e-3) };
        steps.push(m);
        o.onStep?.(m);
        const endOfEpoch = i + 1 === perEpoch;
        if (endOfEpoch) {
          const em: EpochMetrics = { epoch, step: t.step };
          if (evalSamples) em.eval = await evaluateEpoch(t, evalSamples, o, recipe.cropSize, epoch);
          epochs.push(em);
          o.onEpoch?.(em);
          if (o.metricsFile) await writeFileAtomic(o.metricsFile, metricsJson());
        }
        if (o.checkpointEvery && t.step % o.checkpointEvery === 0 && t.step < totalSteps) {
          await (endOfEpoch ? checkpoint(epoch + 1, 0, []) : checkpoint(epoch, i + 1, orders));
        }
      }
    }
    if (stopped) return { steps, epochs, stopped, files: [checkpointFile] };
    const params = await readParams(t.params);
    const metadata = { format: 'pt', config: JSON.stringify(configToJson(cfg)), trained: JSON.stringify({ recipe: o.recipe, steps: t.step, seed: o.seed }) };
    await writeSafetensorsFile(o.out, params, metadata, 'f32');
    files.push(o.out);
    const pth = o.pth === undefined ? withExt(o.out, '.pth') : o.pth;
    if (pth) {
      await writeTorchCheckpointFile(pth, params);
      files.push(pth);
    }
    if (o.metricsFile) {
      await writeFileAtomic(o.metricsFile, metricsJson());
      files.push(o.metricsFile);
    }
    return { steps, epochs, stopped: false, files };
  } finally {
    if (models) disposeSelfTrainingModels(models);
    disposeTrainer(t);
  }
}

async function priorMetrics(file: string, upTo: number): Promise<{ steps: StepMetrics[]; epochs: EpochMetrics[] }> {
  const text = await fs.readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return { steps: [], epochs: [] };
  const j = JSON.parse(text) as { steps?: StepMetrics[]; epochs?: EpochMetrics[] };
  return { steps: (j.steps ?? []).filter((m) => m.step <= upTo), epochs: (j.epochs ?? []).filter((m) => m.step <= upTo) };
}

/** The evaluation harness on the model as it is now (a copy of the parameters, freed after). */
async function evaluateEpoch(t: Trainer, samples: DepthSample[], o: TrainOptions, crop: number, epoch: number): Promise<EpochMetrics['eval']> {
  const preset = DATASET_PRESETS[o.evalDataset ?? 'folder'];
  const model = await DepthAnything.load({ stateDict: await readParams(t.params), config: t.cfg, source: `the model after epoch ${epoch + 1}` });
  try {
    const s: EvalSettings = {
      protocol: model.metric ? 'metric' : 'relative', minDepth: preset.minDepth, maxDepth: preset.maxDepth, crop: preset.crop,
      depthScale: o.depthScale ?? preset.depthScale, kbCrop: preset.kbCrop, inputSize: crop, minValidPixels: DEFAULT_MIN_VALID_PIXELS, ...o.evalSettings,
    };
    const r = await evaluateDataset(model, samples, s);
    return { protocol: s.protocol, mean: r.mean, counts: r.counts };
  } finally {
    model.dispose();
  }
}
