/**
 * One training step: the loss and the gradient of every parameter (tf.variableGrads over the
 * variables the model is bound to), then AdamW with the two parameter groups at the step's
 * learning rates. Every tensor a step makes is freed by the step, except what it hands back.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerTrainingKernels } from '../backends/grad_kernels';
import { ModelConfig } from '../config/depth';
import { AdamWConfig, GroupConfig, Schedule } from '../config/train';
import { DepthAnythingWeights } from '../depth/depth_anything';
import { AdamWState, adamwStep, disposeAdamW, groupLrs, newAdamWState } from './adamw';
import { TrainableParams, bindTrainable, disposeTrainable, makeTrainable } from './params';
import { lrAtStep } from './schedule';
import { StateDict } from '../weights/state_dict';

export interface Optimisation {
  lr: number;
  adamw: AdamWConfig;
  groups: GroupConfig;
  schedule: Schedule;
  /** Steps in the whole run (the schedule's total_iters). */
  totalSteps: number;
}

export interface Trainer {
  cfg: ModelConfig;
  params: TrainableParams;
  adam: AdamWState;
  opt: Optimisation;
  /** Steps taken so far. */
  step: number;
}

export function createTrainer(sd: StateDict, cfg: ModelConfig, opt: Optimisation): Trainer {
  registerTrainingKernels();
  if (cfg.zoe) throw new Error('training a V1 metric (ZoeDepth) model is not supported: fine-tune a V2 metric or relative model');
  return { cfg, params: makeTrainable(sd), adam: newAdamWState(), opt, step: 0 };
}

export function disposeTrainer(t: Trainer): void {
  disposeAdamW(t.adam);
  disposeTrainable(t.params);
}

/** What a loss function hands back: the scalar to minimise and tensors to keep (freed by the caller). */
export interface LossOutput<T> {
  loss: tf.Scalar;
  keep: T;
}

export interface Gradients<T> {
  loss: number;
  /** Official parameter name -> gradient (PyTorch layout); parameters the loss does not reach have none. */
  grads: Map<string, tf.Tensor>;
  kept: T;
}

const tensorsOf = (c: unknown): tf.Tensor[] => {
  if (c instanceof tf.Tensor) return [c];
  if (Array.isArray(c)) return c.flatMap(tensorsOf);
  if (c && typeof c === 'object') return Object.values(c).flatMap(tensorsOf);
  return [];
};

/**
 * The loss of the model bound to the trainer's variables, and its gradients. Async only to read
 * the loss (GPU backends in Node cannot read synchronously); `lossFn` itself runs synchronously.
 */
export async function computeGradients<T>(t: Trainer, lossFn: (w: DepthAnythingWeights) => LossOutput<T>): Promise<Gradients<T>> {
  let kept: T | undefined;
  const varList = [...t.params.vars.values()];
  const { value, grads } = tf.variableGrads(() => {
    const w = bindTrainable(t.params, t.cfg);
    const out = lossFn(w);
    for (const k of tensorsOf(out.keep)) tf.keep(k);
    kept = out.keep;
    return out.loss;
  }, varList);
  let loss: number;
  try {
    loss = (await value.data())[0];
  } finally {
    value.dispose();
  }
  const named = new Map<string, tf.Tensor>();
  for (const [varName, g] of Object.entries(grads)) named.set(t.params.byVarName.get(varName)!, g);
  return { loss, grads: named, kept: kept as T };
}

/** The two groups' learning rates the next step runs with. */
export function nextLrs(t: Trainer): [number, number] {
  return groupLrs(lrAtStep(t.opt.schedule, t.opt.lr, t.step + 1, t.opt.totalSteps), t.opt.groups);
}

/** AdamW on the gradients at the next step's learning rates; frees the gradients. */
export function applyGradients(t: Trainer, grads: Map<string, tf.Tensor>): [number, number] {
  const lrs = nextLrs(t);
  try {
    adamwStep(t.params.vars, grads, t.adam, lrs, t.opt.adamw, t.opt.groups);
  } finally {
    tf.dispose([...grads.values()]);
  }
  t.step++;
  return lrs;
}

/** Frees what a loss function kept. */
export const disposeKept = (kept: unknown): void => tf.dispose(tensorsOf(kept));
