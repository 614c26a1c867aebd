/**
 * Reads a segmentation checkpoint: an mmengine `.pth` (`{meta, state_dict, ...training state}`,
 * read without executing anything, see io/torch_zip) or safetensors with the official mmseg key
 * names. The configuration comes, in this order, from an explicit config (a SegConfig, a variant
 * name, or a JSON file: the fixtures' config.json or a bare mmseg model dict), the file's metadata
 * (our safetensors), or the official release (file name, else the class count in the tensors).
 * Class names and palette: the checkpoint's `meta.dataset_meta`, else the dataset's built-in ones.
 */
import { promises as fs } from 'fs';
import { ConfigError, ENCODERS, ModelConfig, configFromJson } from '../config/depth';
import { parseSafetensors } from '../io/safetensors';
import { readTorchCheckpoint } from '../weights/torch_zip';
import { isTuple } from '../io/pickle';
import { stateDictFromSafetensors } from '../weights/safetensors_weights';
import { StateDict, WeightsError } from '../weights/state_dict';
import { SEG_VARIANTS, SegConfig, SegVariantName, segConfigFromMmseg, segVariantFromFileName, validateSegConfig } from '../config/semseg';
import { METAINFO, SegMetainfo, datasetForClasses } from '../semseg/metainfo';
import { weightsFileKeys } from './weights_file';

export interface LoadedSegWeights {
  stateDict: StateDict;
  config: SegConfig;
  configFrom: string;
  metainfo: SegMetainfo;
  metainfoFrom: string;
  source: string;
}

export interface SegLoadOptions {
  config?: SegConfig | SegVariantName | string;
}

/** A depth model (`pretrained.*`, `depth_head.*`) is not a segmentation model, and the reverse. */
export function isSegStateDict(sd: { has(key: string): boolean; keys(): Iterable<string> }): boolean {
  return sd.has('backbone.dinov2.pos_embed') && [...sd.keys()].some((k) => k.startsWith('decode_head.'));
}

function checkIsSeg(sd: StateDict, source: string): void {
  if (isSegStateDict(sd)) return;
  if (sd.has('pretrained.pos_embed')) {
    throw new WeightsError(`${source}: this is a Depth Anything depth model (pretrained.* / depth_head.* keys), not a segmentation model; use \`depth-anything predict\``);
  }
  const some = [...sd.keys()].slice(0, 3).join(', ');
  throw new WeightsError(`${source}: not a Depth Anything segmentation checkpoint: backbone.dinov2.pos_embed or decode_head.* is missing (keys start: ${some || 'none'})`);
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${file}: config is not valid JSON (${(e as Error).message})`);
  }
}

/** The DINOv2 sizes: embed dim, depth and grid from the tensors; heads from the official size or `heads`. */
function backboneFromTensors(sd: StateDict, source: string, heads?: number): ModelConfig {
  const pos = sd.get('backbone.dinov2.pos_embed')!.shape;
  let depth = 0;
  for (const k of sd.keys()) {
    const m = /^backbone\.dinov2\.blocks\.(\d+)\./.exec(k);
    if (m) depth = Math.max(depth, Number(m[1]) + 1);
  }
  const embedDim = pos[2];
  const official = Object.values(ENCODERS).find((e) => e.embedDim === embedDim && e.depth === depth && e.ffn === 'mlp');
  const numHeads = heads ?? official?.numHeads;
  if (!numHeads) throw new WeightsError(`${source}: the encoder (embed_dim ${embedDim}, depth ${depth}) is not an official DINOv2 size, so its number of heads is unknown; pass --config FILE (the fixtures' config.json with "tiny".heads)`);
  return configFromJson({ version: 'v1', encoder: 'vitl', embed_dim: embedDim, depth, heads: numHeads, pos_grid: Math.round(Math.sqrt(pos[1] - 1)) }, source);
}

/** A config JSON: the fixtures' (`model` + `tiny` + `test_cfg`) or a bare mmseg model dict. */
function segConfigFromJson(json: unknown, sd: StateDict, source: string): SegConfig {
  const j = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
  const model = 'model' in j ? j.model : j;
  const tiny = j.tiny as { heads?: number } | undefined;
  const backbone = backboneFromTensors(sd, source, tiny?.heads);
  const m = { ...(model as Record<string, unknown>) };
  if (j.test_cfg !== undefined && 'model' in j) m.test_cfg = j.test_cfg;
  const cfg = segConfigFromMmseg(m, backbone, source);
  // The test pipeline's Resize(scale, keep_ratio=True), when the file lists the pipeline.
  const resize = Array.isArray(j.pipeline) ? (j.pipeline as Array<Record<string, unknown>>).find((t) => t?.type === 'Resize') : undefined;
  if (resize) {
    const sc = resize.scale;
    if (!(Array.isArray(sc) && sc.length === 2 && sc.every((v) => typeof v === 'number' && v > 0)) || resize.keep_ratio !== true) {
      throw new ConfigError(`${source}: pipeline Resize must have scale [long, short] and keep_ratio true; got ${JSON.stringify(resize)}`);
    }
    cfg.testResize = [sc[0], sc[1]];
  }
  return cfg;
}

/** mmengine meta.dataset_meta {classes, palette}, when well-formed. */
function metainfoFromMeta(meta: unknown, numClasses: number): SegMetainfo | undefined {
  if (!(meta instanceof Map)) return undefined;
  const dm = meta.get('dataset_meta');
  if (!(dm instanceof Map)) return undefined;
  const classes = dm.get('classes');
  const palette = dm.get('palette');
  if (!Array.isArray(classes) || !classes.every((c) => typeof c === 'string') || classes.length !== numClasses) return undefined;
  const okColor = (c: unknown) => (Array.isArray(c) || isTuple(c)) && (c as unknown[]).length === 3 && (c as unknown[]).every((v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 255);
  if (!Array.isArray(palette) || palette.length !== numClasses || !palette.every(okColor)) return undefined;
  return { classes: classes as string[], palette: palette.map((c) => [...(c as number[])] as [number, number, number]) };
}

/** Distinct colours for a model of unknown classes (golden-angle hues; deterministic). */
function fallbackMetainfo(n: number): SegMetainfo {
  const palette = Array.from({ length: n }, (_, i) => {
    const h = (i * 137.508) % 360;
    const f = (k: number) => { const a = (k + h / 30) % 12; return Math.round(255 * (0.5 - 0.45 * Math.max(-1, Math.min(a - 3, 9 - a, 1)))); };
    return [f(0), f(8), f(4)] as [number, number, number];
  });
  return { classes: Array.from({ length: n }, (_, i) => `class ${i}`), palette };
}

export async function loadSegWeightsFile(file: string, opts: SegLoadOptions = {}): Promise<LoadedSegWeights> {
  let head: Buffer;
  try {
    const fh = await fs.open(file, 'r');
    try { head = Buffer.alloc(4); await fh.read(head, 0, 4, 0); } finally { await fh.close(); }
  } catch (e) {
    throw new WeightsError(`cannot read weights file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let stateDict: StateDict;
  let meta: unknown;
  let recorded: unknown;
  if (head.readUInt32LE(0) === 0x04034b50) {
    const ckpt = await readTorchCheckpoint(file);
    stateDict = ckpt.stateDict;
    meta = ckpt.meta;
  } else {
    const parsed = parseSafetensors(await fs.readFile(file), file);
    stateDict = stateDictFromSafetensors(parsed);
    if (parsed.metadata.config !== undefined) {
      try { recorded = JSON.parse(parsed.metadata.config); } catch { recorded = undefined; }
    }
  }
  checkIsSeg(stateDict, file);

  let config: SegConfig;
  let configFrom: string;
  const given = opts.config;
  if (typeof given === 'object') {
    config = given; configFrom = 'config option';
  } else if (typeof given === 'string' && given in SEG_VARIANTS) {
    config = SEG_VARIANTS[given as SegVariantName]; configFrom = given;
  } else if (typeof given === 'string') {
    config = segConfigFromJson(await readJson(given), stateDict, given); configFrom = given;
  } else if (recorded && typeof recorded === 'object' && ((recorded as Record<string, unknown>).type === 'EncoderDecoder' || 'model' in (recorded as object))) {
    const r = recorded as Record<string, unknown>;
    config = segConfigFromJson(r, stateDict, `${file} (__metadata__.config)`);
    configFrom = `${file} (__metadata__.config)`;
    if (r.dataset === 'ade20k' || r.dataset === 'cityscapes') config.dataset = r.dataset;
    // Our converted files carry the class names and palette in the mmengine meta form.
    const dm = r.dataset_meta as { classes?: unknown; palette?: unknown } | undefined;
    if (dm && meta === undefined) meta = new Map([['dataset_meta', new Map([['classes', dm.classes], ['palette', dm.palette]])]]);
  } else {
    const byName = segVariantFromFileName(file);
    const cls = stateDict.get('decode_head.cls_embed.weight')?.shape[0];
    const byClasses = cls !== undefined ? datasetForClasses(cls - 1) : undefined;
    const name = byName ?? (byClasses ? `seg-${byClasses}` as SegVariantName : undefined);
    if (!name) throw new WeightsError(`${file}: cannot tell the segmentation model's configuration (not an official release name, ${cls !== undefined ? cls - 1 : 'unknown'} classes); pass --config FILE (an mmseg model dict or the fixtures' config.json)`);
    config = { ...SEG_VARIANTS[name], backbone: backboneFromTensors(stateDict, file, SEG_VARIANTS[name].backbone.numHeads) };
    configFrom = byName ? 'file name' : 'class count in the tensors';
  }
  validateSegConfig(config, configFrom);

  const K = config.head.numClasses;
  let metainfo = metainfoFromMeta(meta, K);
  let metainfoFrom = 'checkpoint meta.dataset_meta';
  if (!metainfo) {
    const ds = config.dataset ?? datasetForClasses(K);
    if (ds) { metainfo = METAINFO[ds]; metainfoFrom = `built-in ${ds}`; } else { metainfo = fallbackMetainfo(K); metainfoFrom = 'generated (unknown dataset)'; }
  }
  return { stateDict, config, configFrom, metainfo, metainfoFrom, source: file };
}


/** Whether a weights file holds a segmentation model (safetensors: header only; .pth: its pickle). */
export async function isSegWeightsFile(file: string): Promise<boolean> {
  const keys = await weightsFileKeys(file);
  return keys !== undefined && isSegStateDict(keys);
}
