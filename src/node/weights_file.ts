/**
 * Reads any supported weights file into a StateDict (official key names, PyTorch shapes, float32)
 * plus its resolved configuration: the readers of src/weights/read.ts over a file, with a
 * Hugging Face or V1 `config.json` beside the weights found on disk.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import { ModelConfig, Version, configFromJson } from '../config/depth';
import { ResolveInputs, resolveConfig } from '../weights/detect';
import { HfConfigSource, ReadWeights, WeightsFormat, readSafetensorsWeights, recordTorchSideConfig, refuseSegModel, sniffWeights } from '../weights/read';
import { StateDict, WeightsError } from '../weights/state_dict';
import { readTorchCheckpoint } from '../weights/torch_zip';
import { readSafetensorsFile } from './safetensors_file';

export type { WeightsFormat };

export interface LoadedWeights {
  stateDict: StateDict;
  /** The resolved configuration; undefined only when nothing can tell (see `configProblem`). */
  config?: ModelConfig;
  source: string;
  format?: WeightsFormat;
  /** Where the configuration came from (`__metadata__.config`, `--config`, `file name + tensors`, ...). */
  configFrom?: string;
  /** Why `config` is undefined, naming the flag that would settle it. */
  configProblem?: string;
  /** Stored dtypes of the weights (e.g. ['F32'] or ['float16']). */
  dtypes?: string[];
}

export interface LoadOptions {
  version?: Version;
  /** Metric models: max depth in metres. */
  maxDepth?: number;
  /** A complete configuration, or a path to one in the fixtures' config.json schema. */
  config?: ModelConfig | string;
  /** Hugging Face `config.json`: parsed, or its path. Default: `config.json` beside the weights. */
  hfConfig?: unknown;
  /**
   * Safetensors files: each tensor's data is read from the file whenever it is asked for and not
   * kept (for a caller that binds the weights once and drops them; see readSafetensorsFile).
   */
  readOnAccess?: boolean;
}


async function readJson(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    throw new WeightsError(`cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new WeightsError(`${file}: ${what} is not valid JSON (${(e as Error).message})`);
  }
}

/** `config.json` beside the weights, if there is one. */
async function siblingConfig(file: string): Promise<HfConfigSource | undefined> {
  const p = path.join(path.dirname(file), 'config.json');
  try {
    await fs.access(p);
  } catch {
    return undefined;
  }
  return { json: await readJson(p, 'config'), path: p };
}

/** A weights file's format from its first bytes (`sniffWeights`). */
export async function sniffWeightsFile(file: string): Promise<'zip' | 'safetensors'> {
  let head: Buffer;
  let size: number;
  try {
    const fh = await fs.open(file, 'r');
    try {
      size = (await fh.stat()).size;
      head = Buffer.alloc(16);
      await fh.read(head, 0, 16, 0);
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw new WeightsError(`cannot read weights file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return sniffWeights(head, size, file);
}

/** Loads `.pth`, Hugging Face safetensors or our safetensors; see the module comment. */
export async function loadWeightsFile(file: string, opts: LoadOptions = {}): Promise<LoadedWeights> {
  const kind = await sniffWeightsFile(file);
  const inputs: ResolveInputs = { version: opts.version, maxDepth: opts.maxDepth, fileName: file };
  if (typeof opts.config === 'string') inputs.config = configFromJson(await readJson(opts.config, 'config'), opts.config);
  else if (opts.config) inputs.config = opts.config;
  const hfFromOpts = async () => {
    if (opts.hfConfig === undefined) return undefined;
    if (typeof opts.hfConfig === 'string') return { json: await readJson(opts.hfConfig, 'Hugging Face config'), path: opts.hfConfig };
    return { json: opts.hfConfig, path: 'hfConfig option' };
  };

  let read: ReadWeights;
  if (kind === 'zip') {
    // Read through the file descriptor (zip central directory, one tensor at a time), not all in memory.
    const ckpt = await readTorchCheckpoint(file);
    refuseSegModel(ckpt.stateDict, file);
    recordTorchSideConfig((await hfFromOpts()) ?? (await siblingConfig(file)), inputs, opts.version);
    read = { stateDict: ckpt.stateDict, format: 'pth', dtypes: [...ckpt.dtypes] };
  } else {
    // Tensor by tensor, not one buffer of the whole file (src/node/safetensors_file.ts).
    read = await readSafetensorsWeights(await readSafetensorsFile(file, { lazy: opts.readOnAccess }), file, inputs, async () => (await hfFromOpts()) ?? (await siblingConfig(file)));
  }
  const { stateDict, format, dtypes } = read;
  const resolved = resolveConfig(stateDict, file, inputs);
  const base = { stateDict, source: file, format, dtypes };
  return resolved.config
    ? { ...base, config: resolved.config, configFrom: resolved.from }
    : { ...base, configProblem: resolved.problem };
}

/**
 * The tensor names a weights file holds, read cheaply: a safetensors file's header only, a torch
 * `.pth` zip's state dict; undefined when the file cannot be read as either (the loaders say why).
 * The model-kind checks (segmentation, Depth Anything 3, Video Depth Anything) ask this.
 */
export async function weightsFileKeys(file: string): Promise<{ has(key: string): boolean; keys(): Iterable<string> } | undefined> {
  let fh: import('fs').promises.FileHandle;
  try { fh = await fs.open(file, 'r'); } catch { return undefined; }
  try {
    const head = Buffer.alloc(8);
    await fh.read(head, 0, 8, 0);
    if (head.readUInt32LE(0) === 0x04034b50) {
      await fh.close();
      return (await readTorchCheckpoint(file)).stateDict;
    }
    const n = Number(head.readBigUInt64LE(0));
    if (!(n > 0 && n < 100 * 1024 * 1024)) return undefined;
    const json = Buffer.alloc(n);
    await fh.read(json, 0, n, 8);
    return new Set(Object.keys(JSON.parse(json.toString('utf8')) as object));
  } catch {
    return undefined;
  } finally {
    await fh.close().catch(() => undefined);
  }
}
