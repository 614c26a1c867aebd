/**
 * Which model a state dict is. The tensors tell the sizes (embed dim, depth, FFN kind, head
 * widths, BatchNorm, class-token readout); they cannot tell V1 from V2, relative from metric (and
 * its max depth), or the number of heads of a non-standard width. Those come, in this order, from
 * an explicit configuration, a recorded one (our metadata, HF `config.json`), flags, or the
 * official release file name. What is still unknown is reported with the flag that settles it.
 */
import { ENCODERS, EncoderName, FfnKind, ModelConfig, Version, officialConfig } from '../config';
import { StateDict, WeightsError } from './state_dict';

/** What the tensors say. */
export interface Architecture {
  embedDim: number;
  depth: number;
  ffn: FfnKind;
  patchSize: number;
  posGrid: number;
  features: number;
  outChannels: [number, number, number, number];
  useBn: boolean;
  useClsToken: boolean;
}

export function detectArchitecture(sd: StateDict, source: string): Architecture {
  const get = (key: string): number[] => {
    const t = sd.get(key);
    if (!t) throw new WeightsError(`${source}: not a Depth Anything state dict: ${key} is missing`);
    return t.shape;
  };
  const pos = get('pretrained.pos_embed');
  const patch = get('pretrained.patch_embed.proj.weight');
  let depth = 0;
  for (const k of sd.keys()) {
    const m = /^pretrained\.blocks\.(\d+)\./.exec(k);
    if (m) depth = Math.max(depth, Number(m[1]) + 1);
  }
  if (!depth) throw new WeightsError(`${source}: not a Depth Anything state dict: no pretrained.blocks.*`);
  const grid = Math.round(Math.sqrt((pos[1] ?? 1) - 1));
  return {
    embedDim: pos[2],
    depth,
    ffn: sd.has('pretrained.blocks.0.mlp.w12.weight') ? 'swiglu' : 'mlp',
    patchSize: patch[2],
    posGrid: grid,
    features: get('depth_head.scratch.layer1_rn.weight')[0],
    outChannels: [0, 1, 2, 3].map((i) => get(`depth_head.projects.${i}.weight`)[0]) as Architecture['outChannels'],
    useBn: sd.has('depth_head.scratch.refinenet1.resConfUnit1.bn1.weight'),
    useClsToken: sd.has('depth_head.readout_projects.0.0.weight'),
  };
}

export interface NameHints { version?: Version; encoder?: EncoderName; maxDepth?: number }

/**
 * The official release names: depth_anything_v2_vits.pth, depth_anything_v2_metric_hypersim_vitl.pth
 * (indoor, 20 m), depth_anything_v2_metric_vkitti_vitb.pth (outdoor, 80 m), depth_anything_vitl14.pth (V1).
 */
export function hintsFromFileName(file: string): NameHints {
  // The last path segment (no `path` module: this file is in the browser bundle too).
  const base = (file.split(/[\\/]/).pop() ?? file).toLowerCase();
  let m = /depth_anything_v2_metric_(hypersim|vkitti)_(vit[sblg])\b/.exec(base);
  if (m) return { version: 'v2', encoder: m[2] as EncoderName, maxDepth: m[1] === 'hypersim' ? 20 : 80 };
  m = /depth_anything_v2_(vit[sblg])\b/.exec(base);
  if (m) return { version: 'v2', encoder: m[1] as EncoderName };
  m = /depth_anything_(vit[sbl])14\b/.exec(base);
  if (m) return { version: 'v1', encoder: m[1] as EncoderName };
  return {};
}

export interface ResolveInputs {
  /** `--config`: a complete configuration, used as is. */
  config?: ModelConfig;
  /** A configuration the file carries (our metadata, HF config.json), and where it came from. */
  recorded?: { config: ModelConfig; from: string };
  version?: Version;
  maxDepth?: number;
  /** The weights file's path, for the official release names. */
  fileName?: string;
}

export type Resolved = { config: ModelConfig; from: string } | { config: undefined; problem: string };

/** Resolves the configuration and checks it against the tensors. */
export function resolveConfig(sd: StateDict, source: string, inputs: ResolveInputs): Resolved {
  const given = inputs.config ? { config: inputs.config, from: '--config' } : inputs.recorded;
  let arch: Architecture;
  try {
    arch = detectArchitecture(sd, source);
  } catch (e) {
    // Not a complete model: a given configuration is returned unchecked, binding will say what is wrong.
    if (!(e instanceof WeightsError)) throw e;
    return given ? { config: given.config, from: `${given.from} (unchecked: ${e.message})` } : { config: undefined, problem: e.message };
  }
  if (given) {
    const flagClash = (flag: string, want: unknown, have: unknown) =>
      new WeightsError(`${source}: ${flag} ${String(want)} contradicts ${given.from}, which says ${String(have)}`);
    if (inputs.version !== undefined && inputs.version !== given.config.version) throw flagClash('--version', inputs.version, given.config.version);
    let cfg = given.config;
    if (inputs.maxDepth !== undefined && inputs.maxDepth !== cfg.maxDepth) {
      if (cfg.maxDepth !== undefined) throw flagClash('--max-depth', inputs.maxDepth, `max_depth ${cfg.maxDepth}`);
      cfg = { ...cfg, maxDepth: inputs.maxDepth };
    }
    checkAgainstTensors(cfg, arch, source, given.from);
    return { config: cfg, from: given.from };
  }

  const name = inputs.fileName ? hintsFromFileName(inputs.fileName) : {};
  const version = inputs.version ?? name.version;
  const maxDepth = inputs.maxDepth ?? name.maxDepth;
  const encoder = (Object.keys(ENCODERS) as EncoderName[]).find((e) =>
    ENCODERS[e].embedDim === arch.embedDim && ENCODERS[e].depth === arch.depth && ENCODERS[e].ffn === arch.ffn);
  if (!encoder) {
    return { config: undefined, problem: `${source}: the encoder (embed_dim ${arch.embedDim}, depth ${arch.depth}, ${arch.ffn}) is not an official size, so its number of heads and feature layers cannot be read from the tensors; pass --config FILE (the fixtures' config.json schema)` };
  }
  if (!version) {
    return { config: undefined, problem: `${source}: V1 and V2 checkpoints have the same tensors and the file name is not an official release name; pass --version v1 or --version v2 (and --max-depth M for a metric model)` };
  }
  const base = officialConfig(version, encoder, maxDepth);
  const cfg: ModelConfig = {
    ...base,
    features: arch.features,
    outChannels: arch.outChannels,
    useBn: arch.useBn,
    useClsToken: arch.useClsToken,
  };
  const from = [inputs.version ? '--version' : name.version ? 'file name' : '', 'tensors'].filter(Boolean).join(' + ');
  checkAgainstTensors(cfg, arch, source, from);
  return { config: cfg, from };
}

function checkAgainstTensors(cfg: ModelConfig, arch: Architecture, source: string, from: string): void {
  const pairs: Array<[string, unknown, unknown]> = [
    ['embed_dim', cfg.embedDim, arch.embedDim],
    ['depth', cfg.depth, arch.depth],
    ['ffn', cfg.ffn, arch.ffn],
    ['patch_size', cfg.patchSize, arch.patchSize],
    ['pos_grid', cfg.posGrid, arch.posGrid],
    ['features', cfg.features, arch.features],
    ['out_channels', cfg.outChannels.join(','), arch.outChannels.join(',')],
    ['use_bn', cfg.useBn, arch.useBn],
    ['use_clstoken', cfg.useClsToken, arch.useClsToken],
  ];
  const bad = pairs.filter(([, a, b]) => a !== b).map(([k, a, b]) => `${k}: ${String(a)} in the configuration, ${String(b)} in the tensors`);
  if (bad.length) throw new WeightsError(`${source}: the configuration (from ${from}) does not match the weights: ${bad.join('; ')}`);
}
