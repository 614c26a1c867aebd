/**
 * Which model a state dict is. The tensors tell the sizes (embed dim, depth, FFN kind, head
 * widths, BatchNorm, class-token readout); they cannot tell V1 from V2, relative from metric (and
 * its max depth), or the number of heads of a non-standard width. Those come, in this order, from
 * an explicit configuration, a recorded one (our metadata, HF `config.json`), flags, or the
 * official release file name. What is still unknown is reported with the flag that settles it.
 */
import { ENCODERS, EncoderName, FfnKind, ModelConfig, VARIANTS, Version, officialConfig } from '../config/depth';
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
  /** V1 metric (ZoeDepth) checkpoints: the DPT under `core.core.`, and the head's sizes. */
  zoe?: { nBins: number; binEmbeddingDim: number; attractorOutputs: number[] };
}

/** ZoeDepth checkpoints keep the DPT under `core.core.` (ZoeDepth.core = DepthAnythingCore, .core = DPT_DINOv2). */
export const isZoeStateDict = (sd: StateDict): boolean => sd.has('core.core.pretrained.pos_embed');

/** Video Depth Anything (`head.motion_modules.*`): its own configuration and pipeline (src/config/vda.ts, src/vda). */
export const isVdaStateDict = (sd: { has(key: string): boolean }): boolean => sd.has('head.motion_modules.0.temporal_transformer.norm.weight');
/** Depth Anything 3's released files keep the whole net under `model.` (api.DepthAnything3.model). */
export const isDa3StateDict = (sd: StateDict): boolean => sd.has('model.backbone.pretrained.pos_embed');

export function detectArchitecture(sd: StateDict, source: string): Architecture {
  if (isVdaStateDict(sd)) throw new WeightsError(`${source}: a Video Depth Anything checkpoint (head.motion_modules.*): it runs on videos or frame sequences (VdaSession, \`predict CLIP --weights\`), not the image model`);
  const prefix = isZoeStateDict(sd) ? 'core.core.' : '';
  const get = (k: string): number[] => {
    const key = k.startsWith('pretrained.') || k.startsWith('depth_head.') ? prefix + k : k;
    const t = sd.get(key);
    if (!t) throw new WeightsError(`${source}: not a Depth Anything state dict: ${key} is missing`);
    return t.shape;
  };
  const pos = get('pretrained.pos_embed');
  const patch = get('pretrained.patch_embed.proj.weight');
  let depth = 0;
  for (const k of sd.keys()) {
    const m = /^(?:core\.core\.)?pretrained\.blocks\.(\d+)\./.exec(k);
    if (m) depth = Math.max(depth, Number(m[1]) + 1);
  }
  if (!depth) throw new WeightsError(`${source}: not a Depth Anything state dict: no pretrained.blocks.*`);
  const grid = Math.round(Math.sqrt((pos[1] ?? 1) - 1));
  return {
    embedDim: pos[2],
    depth,
    ffn: sd.has(`${prefix}pretrained.blocks.0.mlp.w12.weight`) ? 'swiglu' : 'mlp',
    patchSize: patch[2],
    posGrid: grid,
    features: get('depth_head.scratch.layer1_rn.weight')[0],
    outChannels: [0, 1, 2, 3].map((i) => get(`depth_head.projects.${i}.weight`)[0]) as Architecture['outChannels'],
    useBn: sd.has(`${prefix}depth_head.scratch.refinenet1.resConfUnit1.bn1.weight`),
    useClsToken: sd.has(`${prefix}depth_head.readout_projects.0.0.weight`),
    ...(prefix ? {
      zoe: {
        nBins: get('seed_bin_regressor._net.2.weight')[0],
        binEmbeddingDim: get('seed_projector._net.2.weight')[0],
        attractorOutputs: [0, 1, 2, 3].map((i) => get(`attractors.${i}._net.2.weight`)[0]),
      },
    } : {}),
  };
}

export interface NameHints { version?: Version; encoder?: EncoderName; maxDepth?: number; zoe?: 'v1-metric-indoor' | 'v1-metric-outdoor' }

/**
 * The official release names: depth_anything_v2_vits.pth, depth_anything_v2_metric_hypersim_vitl.pth
 * (indoor, 20 m), depth_anything_v2_metric_vkitti_vitb.pth (outdoor, 80 m), depth_anything_vitl14.pth (V1).
 */
export function hintsFromFileName(file: string): NameHints {
  // The last path segment (no `path` module: this file is in the browser bundle too).
  const base = (file.split(/[\\/]/).pop() ?? file).toLowerCase();
  // V1 metric: depth_anything_metric_depth_indoor.pt (NYUv2) / _outdoor.pt (KITTI), ViT-L.
  let m = /depth_anything_metric_depth_(indoor|outdoor)\b/.exec(base);
  if (m) return { version: 'v1', encoder: 'vitl', zoe: m[1] === 'indoor' ? 'v1-metric-indoor' : 'v1-metric-outdoor' };
  m = /depth_anything_v2_metric_(hypersim|vkitti)_(vit[sblg])\b/.exec(base);
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
  const name = inputs.fileName ? hintsFromFileName(inputs.fileName) : {};
  if (given) {
    checkZoeKind(given.config, arch, name, source, given.from);
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

  if (arch.zoe) {
    if (!name.zoe) {
      return { config: undefined, problem: `${source}: a V1 metric (ZoeDepth) checkpoint whose file name is not an official release name (depth_anything_metric_depth_indoor.pt / _outdoor.pt); pass --config v1-metric-indoor or --config v1-metric-outdoor (or a config.json with a "zoe" block)` };
    }
    const cfg = VARIANTS[name.zoe];
    checkZoeKind(cfg, arch, name, source, 'file name');
    checkAgainstTensors(cfg, arch, source, 'file name');
    return { config: cfg, from: 'file name + tensors' };
  }
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

/** A ZoeDepth file with a non-ZoeDepth configuration, or the reverse, or indoor/outdoor crossed: one line. */
function checkZoeKind(cfg: ModelConfig, arch: Architecture, name: NameHints, source: string, from: string): void {
  if (arch.zoe && !cfg.zoe) {
    throw new WeightsError(`${source}: a V1 metric (ZoeDepth) checkpoint (core.core.*, seed_bin_regressor.*, attractors.*), but the configuration (from ${from}) is a ${cfg.maxDepth !== undefined ? 'V2 metric' : 'relative'} ${cfg.version} model: use v1-metric-indoor or v1-metric-outdoor`);
  }
  if (!arch.zoe && cfg.zoe) {
    throw new WeightsError(`${source}: a relative Depth Anything checkpoint (pretrained.*, depth_head.*), not a V1 metric (ZoeDepth) one (core.core.*, seed_bin_regressor.*), but the configuration (from ${from}) is a V1 metric model: use depth_anything_metric_depth_indoor.pt / _outdoor.pt`);
  }
  if (name.zoe && cfg.zoe && VARIANTS[name.zoe].zoe.maxDepth !== cfg.zoe.maxDepth) {
    throw new WeightsError(`${source}: the file name says ${name.zoe} (max depth ${VARIANTS[name.zoe].zoe.maxDepth} m), but the configuration (from ${from}) has max depth ${cfg.zoe.maxDepth} m: use ${name.zoe}`);
  }
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
  if (cfg.zoe && arch.zoe) {
    const normed = cfg.zoe.binCentersType === 'normed' || cfg.zoe.binCentersType === 'hybrid2';
    pairs.push(['zoe.n_bins', cfg.zoe.nBins, arch.zoe.nBins], ['zoe.bin_embedding_dim', cfg.zoe.binEmbeddingDim, arch.zoe.binEmbeddingDim],
      [`zoe.n_attractors (x${normed ? 2 : 1} outputs, ${cfg.zoe.binCentersType} bins)`, cfg.zoe.nAttractors.map((n) => (normed ? 2 * n : n)).join(','), arch.zoe.attractorOutputs.join(',')]);
  }
  const bad = pairs.filter(([, a, b]) => a !== b).map(([k, a, b]) => `${k}: ${String(a)} in the configuration, ${String(b)} in the tensors`);
  if (bad.length) throw new WeightsError(`${source}: the configuration (from ${from}) does not match the weights: ${bad.join('; ')}`);
}
