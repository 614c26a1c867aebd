/**
 * A training checkpoint: everything a run needs to go on exactly where it was (the parameters,
 * AdamW's moments and step counts, the generator's state, the position in the epoch and the
 * epoch's sample order), as one safetensors file written atomically. Parameters keep their official
 * names; the moments are `optimizer.exp_avg.<name>` / `optimizer.exp_avg_sq.<name>`; the rest is
 * JSON in the metadata (`train_state`), next to the model configuration.
 */
import { promises as fs } from 'fs';
import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig, configFromJson, configToJson } from '../config/depth';
import { entryToFloat32, parseSafetensors } from '../io/safetensors';
import { TrainDataError } from '../train/transforms';
import { Trainer } from '../train/trainer';
import { StateDict } from '../weights/state_dict';
import { writeSafetensorsFile } from './safetensors_file';

const M = 'optimizer.exp_avg.';
const V = 'optimizer.exp_avg_sq.';

/** Where the run is, between two steps. */
export interface TrainPosition {
  recipe: string;
  /** Steps taken. */
  step: number;
  totalSteps: number;
  /** The epoch the next step belongs to (0-based) and its batch index in it. */
  epoch: number;
  batchInEpoch: number;
  /** The current epoch's sample orders (labeled, and unlabeled for self-training). */
  orders: number[][];
  rng: number;
  /** What must not change on resume (batch, crop, lr, data sizes, seed...). */
  settings: Record<string, number | string>;
}

interface StateJson extends TrainPosition { version: 1; adamSteps: Record<string, number> }

export async function writeTrainCheckpoint(file: string, t: Trainer, pos: TrainPosition): Promise<void> {
  const sd: StateDict = new Map();
  const adamSteps: Record<string, number> = {};
  for (const [name, v] of t.params.vars) sd.set(name, { shape: [...v.shape], data: (await v.data()) as Float32Array });
  for (const [name, m] of t.adam.expAvg) {
    sd.set(M + name, { shape: [...m.shape], data: (await m.data()) as Float32Array });
    const v = t.adam.expAvgSq.get(name)!;
    sd.set(V + name, { shape: [...v.shape], data: (await v.data()) as Float32Array });
    adamSteps[name] = t.adam.step.get(name)!;
  }
  const state: StateJson = { version: 1, ...pos, adamSteps };
  await writeSafetensorsFile(file, sd, { format: 'pt', config: JSON.stringify(configToJson(t.cfg)), train_state: JSON.stringify(state) }, 'f32');
}

export interface LoadedCheckpoint {
  weights: StateDict;
  config: ModelConfig;
  pos: TrainPosition;
  /** Moments and step counts, as plain data (the trainer makes the tensors). */
  adam: Map<string, { m: Float32Array; v: Float32Array; shape: number[]; step: number }>;
}

export async function readTrainCheckpoint(file: string): Promise<LoadedCheckpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(file);
  } catch (e) {
    throw new TrainDataError(`--resume: cannot read the checkpoint ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const st = parseSafetensors(bytes, file);
  const raw = st.metadata.train_state;
  if (!raw || !st.metadata.config) throw new TrainDataError(`--resume: ${file} is not a training checkpoint (no train_state in its metadata): resume from the file written by --checkpoint-every`);
  const state = JSON.parse(raw) as StateJson;
  const weights: StateDict = new Map();
  const adam: LoadedCheckpoint['adam'] = new Map();
  for (const [k, e] of st.tensors) if (!k.startsWith('optimizer.')) weights.set(k, { shape: e.shape, data: entryToFloat32(e, file) });
  for (const [name, step] of Object.entries(state.adamSteps)) {
    const m = st.tensors.get(M + name);
    const v = st.tensors.get(V + name);
    if (!m || !v) throw new TrainDataError(`--resume: ${file} lacks AdamW's moments of ${name}`);
    adam.set(name, { m: entryToFloat32(m, file), v: entryToFloat32(v, file), shape: m.shape, step });
  }
  const { version, adamSteps, ...pos } = state;
  if (version !== 1) throw new TrainDataError(`--resume: ${file} has checkpoint version ${version}; this library writes 1`);
  void adamSteps;
  return { weights, config: configFromJson(JSON.parse(st.metadata.config), file), pos, adam };
}

/** Puts a checkpoint's optimiser state into a fresh trainer (made from its weights). */
export function restoreAdam(t: Trainer, c: LoadedCheckpoint): void {
  for (const [name, a] of c.adam) {
    if (!t.params.vars.has(name)) throw new TrainDataError(`--resume: the checkpoint has AdamW state for ${name}, which the model lacks`);
    t.adam.expAvg.set(name, tf.tensor(a.m, a.shape));
    t.adam.expAvgSq.set(name, tf.tensor(a.v, a.shape));
    t.adam.step.set(name, a.step);
  }
  t.step = c.pos.step;
}
