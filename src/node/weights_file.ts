/**
 * Reads any supported weights file into a StateDict (official key names, PyTorch shapes, float32)
 * plus its resolved configuration. Formats are told apart by their bytes, not their names:
 * - a zip (`PK\x03\x04`): an official `torch.save` checkpoint (.pth, pytorch_model.bin);
 * - safetensors with official keys: ours (config in `__metadata__.config`) or any other;
 * - safetensors with Hugging Face keys (`backbone.`, `neck.`, `head.`): remapped, config from
 *   HF `config.json` (given, or beside the file).
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import { ModelConfig, Version, configFromJson } from '../config/depth';
import { parseSafetensors } from '../io/safetensors';
import { readTorchCheckpoint } from '../weights/torch_zip';
import { StateDict, WeightsError } from '../weights/state_dict';
import { configFromHfConfig, isHfLayout, remapHfStateDict } from '../weights/remap_hf';
import { ResolveInputs, resolveConfig } from '../weights/detect';
import { configFromMetadata, stateDictFromSafetensors } from '../weights/safetensors_weights';

export { configFromMetadata, stateDictFromSafetensors };

export type WeightsFormat = 'pth' | 'hf-safetensors' | 'safetensors';

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
async function siblingConfig(file: string): Promise<{ json: unknown; path: string } | undefined> {
  const p = path.join(path.dirname(file), 'config.json');
  try {
    await fs.access(p);
  } catch {
    return undefined;
  }
  return { json: await readJson(p, 'config'), path: p };
}

/** Reads the first bytes to tell a zip from a safetensors file (and from legacy torch pickles). */
async function sniff(file: string): Promise<'zip' | 'safetensors'> {
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
  if (head.readUInt32LE(0) === 0x04034b50) return 'zip';
  // Pre-1.6 torch.save wrote a bare pickle stream starting with PROTO and a magic number.
  if (head[0] === 0x80 && head[2] === 0x8a) {
    throw new WeightsError(`${file}: a legacy (pre-1.6) PyTorch pickle checkpoint; re-save it with torch.save(state_dict, path) on PyTorch >= 1.6 or convert it to safetensors`);
  }
  if (size >= 9 && head[8] === 0x7b /* '{' */) return 'safetensors';
  throw new WeightsError(`${file}: unrecognised weights format: neither a PyTorch zip checkpoint (.pth) nor a safetensors file`);
}

/** The segmentation models (mmseg keys) have their own loader and command. */
function refuseSegModel(sd: StateDict, file: string): void {
  if (sd.has('backbone.dinov2.pos_embed')) throw new WeightsError(`${file}: this is a segmentation model (Mask2Former, backbone.dinov2.* / decode_head.* keys), not a depth model; use \`depth-anything segment\``);
}

/** Loads `.pth`, Hugging Face safetensors or our safetensors; see the module comment. */
export async function loadWeightsFile(file: string, opts: LoadOptions = {}): Promise<LoadedWeights> {
  const kind = await sniff(file);
  const inputs: ResolveInputs = { version: opts.version, maxDepth: opts.maxDepth, fileName: file };
  if (typeof opts.config === 'string') inputs.config = configFromJson(await readJson(opts.config, 'config'), opts.config);
  else if (opts.config) inputs.config = opts.config;
  const hfFromOpts = async () => {
    if (opts.hfConfig === undefined) return undefined;
    if (typeof opts.hfConfig === 'string') return { json: await readJson(opts.hfConfig, 'Hugging Face config'), path: opts.hfConfig };
    return { json: opts.hfConfig, path: 'hfConfig option' };
  };

  let stateDict: StateDict;
  let format: WeightsFormat;
  let dtypes: string[];
  if (kind === 'zip') {
    const ckpt = await readTorchCheckpoint(file);
    stateDict = ckpt.stateDict;
    refuseSegModel(stateDict, file);
    format = 'pth';
    dtypes = [...ckpt.dtypes];
    // V1 is also published as pytorch_model.bin + a config.json with encoder/features/out_channels.
    const side = (await hfFromOpts()) ?? (await siblingConfig(file));
    const j = side?.json as Record<string, unknown> | undefined;
    if (side && j && typeof j === 'object' && 'backbone_config' in j) {
      inputs.recorded = { config: configFromHfConfig(j, side.path), from: side.path };
    } else if (side && j && typeof j === 'object' && 'encoder' in j && !('version' in j) && !('model_type' in j)) {
      inputs.recorded = { config: configFromJson({ version: opts.version ?? 'v1', ...j }, side.path), from: side.path };
    }
  } else {
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(file);
    } catch (e) {
      throw new WeightsError(`cannot read weights file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const parsed = parseSafetensors(bytes, file);
    dtypes = [...new Set([...parsed.tensors.values()].filter((t) => t.dtype !== 'I64').map((t) => t.dtype))];
    const raw = stateDictFromSafetensors(parsed);
    refuseSegModel(raw, file);
    if (isHfLayout(raw.keys())) {
      format = 'hf-safetensors';
      stateDict = remapHfStateDict(raw, file);
      const hf = (await hfFromOpts()) ?? (await siblingConfig(file));
      if (hf) inputs.recorded = { config: configFromHfConfig(hf.json, hf.path), from: hf.path };
    } else {
      format = 'safetensors';
      stateDict = raw;
      const recorded = configFromMetadata(parsed);
      if (recorded) inputs.recorded = { config: recorded, from: `${file} (__metadata__.config)` };
    }
  }
  const resolved = resolveConfig(stateDict, file, inputs);
  const base = { stateDict, source: file, format, dtypes };
  return resolved.config
    ? { ...base, config: resolved.config, configFrom: resolved.from }
    : { ...base, configProblem: resolved.problem };
}
