/**
 * Depth Anything 3 weights files in Node: the released `model.safetensors` (tied tensors
 * restored from the header metadata, src/da3/weights.ts) and their configuration: a given
 * config.json (the fixtures' schema: `model_config` + `tiny`), one beside the weights, or the
 * released size the tensors show.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import { Da3Config, Da3VariantName, da3ConfigFromJson } from '../config/da3';
import { da3StateDictFromSafetensors, da3VariantFromStateDict, isDa3Safetensors } from '../da3/weights';
import { parseSafetensors } from '../io/safetensors';
import { StateDict, WeightsError } from '../weights/state_dict';
import { weightsFileKeys } from './weights_file';

/** Whether `file` is a safetensors file with Depth Anything 3 keys (reads the header only). */
export async function isDa3WeightsFile(file: string): Promise<boolean> {
  return Boolean((await weightsFileKeys(file))?.has('model.backbone.pretrained.pos_embed'));
}

export interface LoadedDa3Weights {
  stateDict: StateDict;
  config: Da3Config;
  /** Where the configuration came from. */
  configFrom: string;
  /** The whole config.json when one was read (its `inference` block has the reference-view strategy). */
  configJson?: Record<string, unknown>;
  /** The released model the tensors match, when the configuration came from them. */
  variant?: Da3VariantName;
  source: string;
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try { text = await fs.readFile(file, 'utf8'); } catch (e) { throw new WeightsError(`cannot read config ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); }
  try { return JSON.parse(text); } catch (e) { throw new WeightsError(`${file}: config is not valid JSON (${(e as Error).message})`); }
}

/** Reads a DA3 weights file; `config`: a config.json path (default: one beside the weights, else the tensors' released size). */
export async function loadDa3WeightsFile(file: string, opts: { config?: string } = {}): Promise<LoadedDa3Weights> {
  let bytes: Buffer;
  try { bytes = await fs.readFile(file); } catch (e) { throw new WeightsError(`cannot read weights file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); }
  const parsed = parseSafetensors(bytes, file);
  if (!isDa3Safetensors(parsed)) throw new WeightsError(`${file}: not a Depth Anything 3 checkpoint: model.backbone.pretrained.pos_embed is missing`);
  const stateDict = da3StateDictFromSafetensors(parsed);
  let configPath = opts.config;
  if (!configPath) {
    const beside = path.join(path.dirname(file), 'config.json');
    const json = await fs.readFile(beside, 'utf8').then((t) => JSON.parse(t) as Record<string, unknown>).catch(() => undefined);
    if (json && typeof json === 'object' && 'model_config' in json) configPath = beside;
  }
  if (configPath) {
    const json = await readJson(configPath) as Record<string, unknown>;
    return { stateDict, config: da3ConfigFromJson(json, configPath), configFrom: configPath, configJson: json, source: file };
  }
  const v = da3VariantFromStateDict(stateDict, file, file);
  return { stateDict, config: v.config, configFrom: `tensors (${v.name})`, variant: v.name, source: file };
}
