/**
 * A model's parameters as trainable tf.Variables in PyTorch's layout, keyed by the official
 * `state_dict()` names. The model code binds them as it binds a checkpoint (the loaders take
 * `RawTensor.tensor` when set, src/nn/param.ts), so every bound weight is a recorded function of
 * a variable and gradients come back in PyTorch's layout, under PyTorch's names.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig } from '../config/depth';
import { DepthAnythingWeights, bindWeights } from '../depth/depth_anything';
import { StateDict } from '../weights/state_dict';

let instances = 0;

export interface TrainableParams {
  /** Official names, in the checkpoint's order. */
  readonly names: string[];
  readonly vars: Map<string, tf.Variable>;
  /** Variable name -> official name (tfjs names variables globally). */
  readonly byVarName: Map<string, string>;
}

/**
 * Variables for every float tensor of `sd`, including those the forward pass never reads
 * (`pretrained.mask_token`, refinenet4's resConfUnit1): they get no gradient, and AdamW skips
 * them, as PyTorch's `.grad is None`.
 */
export function makeTrainable(sd: StateDict): TrainableParams {
  const prefix = `train${instances++}/`;
  const vars = new Map<string, tf.Variable>();
  const byVarName = new Map<string, string>();
  for (const [name, t] of sd) {
    if (name.endsWith('num_batches_tracked')) continue;
    const init = tf.tensor(t.data, t.shape);
    const v = tf.variable(init, true, `${prefix}${name}`); // shares init's data
    init.dispose();
    vars.set(name, v);
    byVarName.set(v.name, name);
  }
  return { names: [...vars.keys()], vars, byVarName };
}

/** A state dict whose entries are the variables themselves (no data copies). */
export function variableStateDict(p: TrainableParams): StateDict {
  const sd: StateDict = new Map();
  for (const [name, v] of p.vars) sd.set(name, { shape: [...v.shape], data: new Float32Array(0), tensor: v });
  return sd;
}

/**
 * Binds the model to the variables; call inside the function handed to tf.variableGrads so the
 * binding's transposes are recorded. The result holds the variables themselves: never dispose it
 * with disposeWeights (the enclosing scope frees the rest).
 */
export function bindTrainable(p: TrainableParams, cfg: ModelConfig, source = 'trainable parameters'): DepthAnythingWeights {
  return bindWeights(variableStateDict(p), cfg, source);
}

/** The parameters read back as a state dict (official names and shapes), e.g. for a checkpoint. */
export async function readParams(p: TrainableParams): Promise<StateDict> {
  const sd: StateDict = new Map();
  for (const [name, v] of p.vars) sd.set(name, { shape: [...v.shape], data: (await v.data()) as Float32Array });
  return sd;
}

export function disposeTrainable(p: TrainableParams): void {
  for (const v of p.vars.values()) v.dispose();
  p.vars.clear();
}
