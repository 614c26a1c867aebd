/**
 * Replays a metric fine-tuning case (train.py) step by step from its data and recorded random
 * choices, and compares everything the case recorded: the batch (inputs, depth, masks), the
 * prediction and loss of each step, the learning rates, every gradient of step 1, AdamW's moments
 * after step 1, and the parameters (and updates) after each recorded step.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { METRIC_RECIPE, MetricRecipe } from '../config/train';
import { readGroundTruth } from '../node/eval/datasets';
import { decodeImage } from '../node/image';
import { TensorToWrite } from '../io/safetensors';
import { PARITY_TOLERANCE } from './compare';
import { metricBatch, metricStep } from '../train/metric';
import { metricSample } from '../train/transforms';
import { Trainer, createTrainer, disposeTrainer } from '../train/trainer';
import { ParityRow, TrainCase, exactRow, floats, ints, lossRow, modelConfigOf, relRow, toNchw, toleranceOf, withoutKeyBias } from './train_case';

/** Inputs and targets come from the same float64 arithmetic as the reference: only float32 storage may differ. */
export const DATA_TOLERANCE = 1e-6;

export interface ReplayReport {
  case: string;
  backend: string;
  rows: ParityRow[];
  losses: number[];
  numTensorsAfterStep: number[];
  /** What the replay computed, under the fixture's keys (`grad.*`, `param.K.*`, `adam.1.*`, losses, `lr`), for `train --dump`. */
  computed: TensorToWrite[];
}

export function metricRecipeOf(c: TrainCase): MetricRecipe {
  const a = c.json.args as { img_size: number; lr: number; min_depth: number; max_depth: number };
  return { ...METRIC_RECIPE, cropSize: a.img_size, lr: a.lr, minDepth: a.min_depth, maxDepth: a.max_depth };
}

export async function replayMetric(c: TrainCase, opts: { steps?: number } = {}): Promise<ReplayReport> {
  const recipe = metricRecipeOf(c);
  const cfg = modelConfigOf(c.json.model as Record<string, unknown>, c.name);
  const tol = c.json.precision.tolerances;
  const schedule = c.json.schedule as { total_iters: number };
  const data = c.json.data as Array<{ image: string; depth_png: string }>;
  const nSteps = Math.min(opts.steps ?? Infinity, c.json.steps.length);
  const images = new Map(await Promise.all(data.map(async (d) => [d.image, {
    rgb: await decodeImage(path.join(c.dir, 'data', d.image)),
    depth: await readGroundTruth(path.join(c.dir, 'data', d.depth_png), 100), // VKITTI2: centimetres
  }] as const)));
  const rows: ParityRow[] = [];
  const losses: number[] = [];
  const numTensorsAfterStep: number[] = [];
  const computed: TensorToWrite[] = [];
  const lrs: number[] = [];
  const refLoss = floats(c.steps, 'loss');
  const refLr = ints(c.steps, 'lr');
  const t: Trainer = createTrainer(c.weights, cfg, { lr: recipe.lr, adamw: recipe.adamw, groups: recipe.groups, schedule: recipe.schedule, totalSteps: schedule.total_iters });
  try {
    for (let K = 1; K <= nSteps; K++) {
      const st = c.json.steps[K - 1] as { files: string[]; crop_h_w_start: number[][]; flip: boolean };
      const samples = st.files.map((f, i) => {
        const d = images.get(f);
        if (!d) throw new Error(`${c.name}: step ${K} reads ${f}, which config.json "data" does not list`);
        return metricSample(d.rgb, d.depth, recipe.cropSize, st.crop_h_w_start[i][0], st.crop_h_w_start[i][1], recipe.validMaxDepth, f);
      });
      const batch = metricBatch(samples, st.flip, recipe);
      const [B, H, W] = batch.shape;
      const p = `step.${K}`;
      rows.push(relRow(`${p}.image`, 'input', toNchw(batch.image, B, H, W, 3), floats(c.steps, `${p}.image`), DATA_TOLERANCE));
      rows.push(relRow(`${p}.depth`, 'input', batch.depth, floats(c.steps, `${p}.depth`), DATA_TOLERANCE));
      rows.push(exactRow(`${p}.valid_mask`, 'mask', batch.valid, ints(c.steps, `${p}.valid_mask`)));
      rows.push(exactRow(`${p}.loss_mask`, 'mask', batch.lossMask, ints(c.steps, `${p}.loss_mask`)));
      const r = await metricStep(t, batch, recipe, K === 1 ? async (grads) => { rows.push(...await gradRows(c, grads, computed)); } : undefined);
      lrs.push(...r.lrs);
      computed.push({ name: `${p}.pred`, shape: [B, H, W], data: r.pred });
      numTensorsAfterStep.push(tf.memory().numTensors);
      losses.push(r.loss);
      rows.push(relRow(`${p}.pred`, 'pred', r.pred, floats(c.steps, `${p}.pred`), PARITY_TOLERANCE.relL2));
      rows.push(lossRow(`loss[${K - 1}]`, r.loss, refLoss[K - 1], tol.loss));
      rows.push(lossRow(`lr[${K - 1}][0]`, r.lrs[0], refLr[2 * (K - 1)], 1e-12), lossRow(`lr[${K - 1}][1]`, r.lrs[1], refLr[2 * (K - 1) + 1], 1e-12));
      if (K === 1) rows.push(...await adamRows(c, t, computed));
      if (c.params.tensors.has(`param.${K}.pretrained.cls_token`)) rows.push(...await paramRows(c, t, K, computed));
    }
  } finally {
    disposeTrainer(t);
  }
  computed.push({ name: 'loss', shape: [losses.length], data: Float32Array.from(losses) }, { name: 'lr', shape: [losses.length, 2], data: Float32Array.from(lrs) });
  return { case: c.name, backend: tf.getBackend(), rows, losses, numTensorsAfterStep, computed };
}

/** Every recorded gradient, and no gradient where PyTorch has none. */
/** A tensor's values, read asynchronously (GPU backends in Node cannot read synchronously). */
const values = async (t: tf.Tensor): Promise<Float32Array> => Float32Array.from((await t.data()) as Float32Array);

export async function gradRows(c: TrainCase, grads: Map<string, tf.Tensor>, computed: TensorToWrite[]): Promise<ParityRow[]> {
  const read = new Map<string, Float32Array>();
  for (const [name, g] of grads) {
    read.set(name, await values(g));
    computed.push({ name: `grad.${name}`, shape: g.shape, data: read.get(name)! });
  }
  const tol = c.json.precision.tolerances;
  const rows: ParityRow[] = [];
  const without = new Set(c.json.params_without_grad as string[]);
  for (const [key] of c.grads.tensors) {
    const name = key.slice('grad.'.length);
    const g = read.get(name);
    if (!g) { rows.push({ key, kind: 'grad', relL2: Infinity, limit: 0, ok: false }); continue; }
    rows.push(relRow(key, 'grad', g, floats(c.grads, key), toleranceOf(tol, 'grad', name)));
  }
  for (const name of grads.keys()) {
    if (without.has(name) || !c.grads.tensors.has(`grad.${name}`)) rows.push({ key: `grad.${name} (PyTorch has none)`, kind: 'grad', relL2: Infinity, limit: 0, ok: false });
  }
  return rows;
}

/** AdamW's moments after step 1: exp_avg = (1 - b1) g at the gradient's tolerance, exp_avg_sq ~ g^2 at twice it. */
export async function adamRows(c: TrainCase, t: Trainer, computed: TensorToWrite[]): Promise<ParityRow[]> {
  const tol = c.json.precision.tolerances;
  const ms = new Map<string, Float32Array>();
  const vs = new Map<string, Float32Array>();
  for (const [name, m] of t.adam.expAvg) { ms.set(name, await values(m)); computed.push({ name: `adam.1.exp_avg.${name}`, shape: m.shape, data: ms.get(name)! }); }
  for (const [name, v] of t.adam.expAvgSq) { vs.set(name, await values(v)); computed.push({ name: `adam.1.exp_avg_sq.${name}`, shape: v.shape, data: vs.get(name)! }); }
  return (c.json.adam_recorded as string[]).flatMap((name) => {
    const m = ms.get(name);
    const v = vs.get(name);
    const lim = toleranceOf(tol, 'grad', name);
    return [
      m ? relRow(`adam.1.exp_avg.${name}`, 'adam', m, floats(c.params, `adam.1.exp_avg.${name}`), lim) : { key: `adam.1.exp_avg.${name}`, kind: 'adam', relL2: Infinity, limit: lim, ok: false },
      v ? relRow(`adam.1.exp_avg_sq.${name}`, 'adam', v, floats(c.params, `adam.1.exp_avg_sq.${name}`), 2 * lim) : { key: `adam.1.exp_avg_sq.${name}`, kind: 'adam', relL2: Infinity, limit: 2 * lim, ok: false },
    ];
  });
}

/** Parameters after step K, and the updates param.K - weights (key bias slice left out). */
export async function paramRows(c: TrainCase, t: Trainer, K: number, computed: TensorToWrite[]): Promise<ParityRow[]> {
  const tol = c.json.precision.tolerances;
  const rows: ParityRow[] = [];
  for (const [name, v] of t.params.vars) {
    const data = await values(v);
    computed.push({ name: `param.${K}.${name}`, shape: v.shape, data });
    const key = `param.${K}.${name}`;
    if (!c.params.tensors.has(key)) { rows.push({ key, kind: 'param', relL2: Infinity, limit: 0, ok: false }); continue; }
    const ours = withoutKeyBias(name, data);
    const ref = withoutKeyBias(name, floats(c.params, key));
    const w0 = withoutKeyBias(name, c.weights.get(name)!.data);
    rows.push(relRow(key, `param.${K}`, ours, ref, toleranceOf(tol, 'param', name)));
    const du = ours.map((x, i) => x - w0[i]);
    const dr = ref.map((x, i) => x - w0[i]);
    const noUpdate = dr.every((x) => x === 0);
    // A parameter without a gradient must stay exactly as it was.
    rows.push(noUpdate ? exactRow(`update.${K}.${name}`, `update.${K}`, du, dr) : relRow(`update.${K}.${name}`, `update.${K}`, du, dr, toleranceOf(tol, 'update', name)));
  }
  return rows;
}
