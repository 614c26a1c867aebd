/**
 * Reads a weights file into a StateDict (official key names, PyTorch shapes, float32) plus the
 * configuration the file records, if any.
 */
import { promises as fs } from 'fs';
import { ModelConfig, configFromJson } from '../config';
import { parseSafetensors, entryToFloat32, ParsedSafetensors } from '../io/safetensors';
import { StateDict, WeightsError } from './state_dict';

export interface LoadedWeights {
  stateDict: StateDict;
  /** From the file's metadata (`__metadata__.config` in our safetensors), when present. */
  config?: ModelConfig;
  source: string;
}

export function stateDictFromSafetensors(parsed: ParsedSafetensors): StateDict {
  const sd: StateDict = new Map();
  for (const [name, entry] of parsed.tensors) {
    // num_batches_tracked (I64) is bookkeeping that inference never reads.
    if (entry.dtype === 'I64' || entry.dtype === 'I32') continue;
    sd.set(name, { shape: entry.shape, data: entryToFloat32(entry, parsed.source) });
  }
  return sd;
}

export function configFromMetadata(parsed: ParsedSafetensors): ModelConfig | undefined {
  const raw = parsed.metadata.config;
  if (raw === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    throw new WeightsError(`${parsed.source}: __metadata__.config is not valid JSON (${(e as Error).message})`);
  }
  return configFromJson(json, `${parsed.source} (__metadata__.config)`);
}

/** Our (or the fixtures') safetensors: official key names, optional config in the metadata. */
export async function loadWeightsFile(path: string): Promise<LoadedWeights> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(path);
  } catch (e) {
    throw new WeightsError(`cannot read weights file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const parsed = parseSafetensors(bytes, path);
  return { stateDict: stateDictFromSafetensors(parsed), config: configFromMetadata(parsed), source: path };
}
