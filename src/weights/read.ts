/**
 * Weights as bytes -> a StateDict (official key names, PyTorch shapes, float32) and its resolved
 * configuration: the one reader behind Node's files (src/node/weights_file.ts) and the page's
 * downloads, Files and buffers (src/browser/weights.ts). Formats are told apart by their bytes,
 * never their names:
 * - a zip (`PK\x03\x04`): an official `torch.save` checkpoint (.pth, pytorch_model.bin);
 * - safetensors with official keys: ours (config in `__metadata__.config`) or any other;
 * - safetensors with Hugging Face keys (`backbone.`, `neck.`, `head.`): remapped, config from
 *   HF `config.json`.
 */
import { ModelConfig, Version, configFromJson } from '../config/depth';
import { ParsedSafetensors, parseSafetensors } from '../io/safetensors';
import { BytesZip } from '../io/zip_bytes';
import { ResolveInputs, isDa3StateDict, isVdaStateDict, resolveConfig } from './detect';
import { configFromHfConfig, isHfLayout, remapHfStateDict } from './remap_hf';
import { configFromMetadata, stateDictFromSafetensors } from './safetensors_weights';
import { StateDict, WeightsError } from './state_dict';
import { readTorchCheckpoint } from './torch_zip';

export type WeightsFormat = 'pth' | 'hf-safetensors' | 'safetensors';

/** A Hugging Face config.json: its parsed JSON and where it came from (for messages). */
export interface HfConfigSource {
  json: unknown;
  path: string;
}

/** Reads the first bytes (at least 9) to tell a zip from a safetensors file, and from legacy torch pickles. */
export function sniffWeights(head: Uint8Array, size: number, source: string): 'zip' | 'safetensors' {
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return 'zip';
  // Pre-1.6 torch.save wrote a bare pickle stream starting with PROTO and a magic number.
  if (head.length >= 3 && head[0] === 0x80 && head[2] === 0x8a) {
    throw new WeightsError(`${source}: a legacy (pre-1.6) PyTorch pickle checkpoint; re-save it with torch.save(state_dict, path) on PyTorch >= 1.6 or convert it to safetensors`);
  }
  if (size >= 9 && head.length >= 9 && head[8] === 0x7b /* '{' */) return 'safetensors';
  throw new WeightsError(`${source}: not a model file: neither a safetensors file nor a PyTorch .pth checkpoint`);
}

/** The segmentation models (mmseg keys) and Depth Anything 3 (`model.*` keys) have their own loaders. */
export function refuseSegModel(sd: StateDict, source: string): void {
  if (sd.has('backbone.dinov2.pos_embed')) throw new WeightsError(`${source}: this is a segmentation model (Mask2Former, backbone.dinov2.* / decode_head.* keys), not a depth model; use \`depth-anything segment\` (Segmenter)`);
  if (isDa3StateDict(sd)) throw new WeightsError(`${source}: a Depth Anything 3 checkpoint (model.backbone.*, model.head.*), not a Depth Anything V1/V2 one (pretrained.*, depth_head.*): load it with the Depth Anything 3 loader (src/da3)`);
}

export interface ReadWeights {
  stateDict: StateDict;
  format: WeightsFormat;
  /** Stored dtypes of the weights (e.g. ['F32'] or ['float16']). */
  dtypes: string[];
}

/**
 * A safetensors file's bytes (or the file read tensor by tensor) as a depth model's StateDict; records in `inputs` the configuration
 * the file carries (ours: its metadata; Hugging Face: `hfConfig()`, asked only for that layout).
 */
export async function readSafetensorsWeights(bytes: Uint8Array | ParsedSafetensors, source: string, inputs: ResolveInputs, hfConfig: () => Promise<HfConfigSource | undefined>): Promise<ReadWeights> {
  const parsed = bytes instanceof Uint8Array ? parseSafetensors(bytes, source) : bytes;
  const dtypes = [...new Set([...parsed.tensors.values()].filter((t) => t.dtype !== 'I64').map((t) => t.dtype))];
  const raw = stateDictFromSafetensors(parsed);
  refuseSegModel(raw, source);
  // VDA's `head.*` keys are not Hugging Face's `head.*` (src/weights/vda_detect.ts resolves its configuration).
  if (!isVdaStateDict(raw) && isHfLayout(raw.keys())) {
    const hf = await hfConfig();
    if (hf) inputs.recorded = { config: configFromHfConfig(hf.json, hf.path), from: hf.path };
    return { stateDict: remapHfStateDict(raw, source), format: 'hf-safetensors', dtypes };
  }
  const recorded = configFromMetadata(parsed);
  if (recorded) inputs.recorded = { config: recorded, from: `${source} (__metadata__.config)` };
  return { stateDict: raw, format: 'safetensors', dtypes };
}

/**
 * V1 is also published as pytorch_model.bin + a config.json (HF's with `backbone_config`, or the
 * original one with encoder/features/out_channels): what such a file records, into `inputs`.
 */
export function recordTorchSideConfig(side: HfConfigSource | undefined, inputs: ResolveInputs, version?: Version): void {
  const j = side?.json as Record<string, unknown> | undefined;
  if (!side || !j || typeof j !== 'object') return;
  if ('backbone_config' in j) {
    inputs.recorded = { config: configFromHfConfig(j, side.path), from: side.path };
  } else if ('encoder' in j && !('version' in j) && !('model_type' in j)) {
    inputs.recorded = { config: configFromJson({ version: version ?? 'v1', ...j }, side.path), from: side.path };
  }
}

export interface BytesLoadOptions {
  /** A complete configuration (overrides what the file records). */
  config?: ModelConfig;
  /** Hugging Face config.json (parsed) for HF-layout safetensors and HF `.bin` checkpoints. */
  hfConfig?: unknown;
  version?: Version;
  maxDepth?: number;
}

export interface WeightsFromBytes {
  stateDict: StateDict;
  config?: ModelConfig;
  configProblem?: string;
  format: WeightsFormat;
}

/**
 * Reads a weights file's bytes; `source` names it in errors and its file name gives hints
 * (official release names), as for files in Node.
 */
export async function weightsFromBytes(bytes: Uint8Array, source: string, opts: BytesLoadOptions = {}): Promise<WeightsFromBytes> {
  const inputs: ResolveInputs = { version: opts.version, maxDepth: opts.maxDepth, fileName: source, ...(opts.config ? { config: opts.config } : {}) };
  const hf = opts.hfConfig !== undefined ? { json: opts.hfConfig, path: 'hfConfig option' } : undefined;
  let read: Pick<ReadWeights, 'stateDict' | 'format'>;
  if (sniffWeights(bytes.subarray(0, 16), bytes.length, source) === 'zip') {
    const stateDict = (await readTorchCheckpoint(source, new BytesZip(bytes, source))).stateDict;
    refuseSegModel(stateDict, source);
    recordTorchSideConfig(hf, inputs, opts.version);
    read = { stateDict, format: 'pth' };
  } else {
    read = await readSafetensorsWeights(bytes, source, inputs, async () => hf);
  }
  const resolved = resolveConfig(read.stateDict, source, inputs);
  return resolved.config
    ? { stateDict: read.stateDict, config: resolved.config, format: read.format }
    : { stateDict: read.stateDict, configProblem: resolved.problem, format: read.format };
}
