/**
 * Model configuration as plain data: one interface, a table of the official variants, and the
 * conversion to and from the fixtures' `config.json` schema (which is also what our converted
 * safetensors carry in `__metadata__.config`).
 */

import { ZoeDepthConfig, releasedZoeConfig, zoeConfigFromJson, zoeConfigToJson } from './zoedepth';

export type Version = 'v1' | 'v2';
export type EncoderName = 'vits' | 'vitb' | 'vitl' | 'vitg';
export type FfnKind = 'mlp' | 'swiglu';

export interface ModelConfig {
  /** v1 feeds the head the last four blocks; v2 fixed blocks per encoder. */
  version: Version;
  encoder: EncoderName;
  embedDim: number;
  depth: number;
  numHeads: number;
  /** `mlp`: Linear-GELU-Linear; `swiglu`: DINOv2's fused SwiGLU (`w12`, `w3`) of the giant model. */
  ffn: FfnKind;
  patchSize: number;
  /** Side of the position-embedding table (518 / 14 = 37). */
  posGrid: number;
  layerScale: boolean;
  layerNormEps: number;
  /** DINOv2's `interpolate_offset`: the bicubic scale factor is (h + offset) / posGrid. */
  interpolateOffset: number;
  /** Blocks (0-based) whose normalised outputs feed the DPT head. */
  intermediateLayers: [number, number, number, number];
  features: number;
  outChannels: [number, number, number, number];
  useBn: boolean;
  useClsToken: boolean;
  /** Set for metric models: depth = sigmoid(head) * maxDepth, in metres. */
  maxDepth?: number;
  /** V1 metric models: ZoeDepth's metric-bins head on this (relative) DPT; see src/zoedepth. */
  zoe?: ZoeDepthConfig;
}

interface EncoderSpec { embedDim: number; depth: number; numHeads: number; ffn: FfnKind; v2Layers: [number, number, number, number] }

/** DINOv2 backbones as the official `vit_small/base/large/giant2` factories build them. */
export const ENCODERS: Record<EncoderName, EncoderSpec> = {
  vits: { embedDim: 384, depth: 12, numHeads: 6, ffn: 'mlp', v2Layers: [2, 5, 8, 11] },
  vitb: { embedDim: 768, depth: 12, numHeads: 12, ffn: 'mlp', v2Layers: [2, 5, 8, 11] },
  vitl: { embedDim: 1024, depth: 24, numHeads: 16, ffn: 'mlp', v2Layers: [4, 11, 17, 23] },
  vitg: { embedDim: 1536, depth: 40, numHeads: 24, ffn: 'swiglu', v2Layers: [9, 19, 29, 39] },
};

/** DPT head sizes of the official `model_configs` (run.py), identical in V1 and V2. */
export const HEADS: Record<EncoderName, { features: number; outChannels: [number, number, number, number] }> = {
  vits: { features: 64, outChannels: [48, 96, 192, 384] },
  vitb: { features: 128, outChannels: [96, 192, 384, 768] },
  vitl: { features: 256, outChannels: [256, 512, 1024, 1024] },
  vitg: { features: 384, outChannels: [1536, 1536, 1536, 1536] },
};

/** Builds the configuration of an official model. */
export function officialConfig(version: Version, encoder: EncoderName, maxDepth?: number): ModelConfig {
  const e = ENCODERS[encoder];
  const d = e.depth;
  return {
    version,
    encoder,
    embedDim: e.embedDim,
    depth: d,
    numHeads: e.numHeads,
    ffn: e.ffn,
    patchSize: 14,
    posGrid: 37,
    layerScale: true,
    layerNormEps: 1e-6,
    interpolateOffset: 0.1,
    intermediateLayers: version === 'v1' ? [d - 4, d - 3, d - 2, d - 1] : [...e.v2Layers],
    features: HEADS[encoder].features,
    outChannels: [...HEADS[encoder].outChannels],
    useBn: false,
    useClsToken: false,
    ...(maxDepth !== undefined ? { maxDepth } : {}),
  };
}

/**
 * Every released model by name. Metric models: Hypersim (indoor, 20 m) and Virtual KITTI
 * (outdoor, 80 m), as the official metric_depth README gives them.
 */
export const VARIANTS = {
  'v1-vits': officialConfig('v1', 'vits'),
  'v1-vitb': officialConfig('v1', 'vitb'),
  'v1-vitl': officialConfig('v1', 'vitl'),
  'v2-vits': officialConfig('v2', 'vits'),
  'v2-vitb': officialConfig('v2', 'vitb'),
  'v2-vitl': officialConfig('v2', 'vitl'),
  'v2-vitg': officialConfig('v2', 'vitg'),
  'v2-metric-hypersim-vits': officialConfig('v2', 'vits', 20),
  'v2-metric-hypersim-vitb': officialConfig('v2', 'vitb', 20),
  'v2-metric-hypersim-vitl': officialConfig('v2', 'vitl', 20),
  'v2-metric-vkitti-vits': officialConfig('v2', 'vits', 80),
  'v2-metric-vkitti-vitb': officialConfig('v2', 'vitb', 80),
  'v2-metric-vkitti-vitl': officialConfig('v2', 'vitl', 80),
  // V1 metric (ZoeDepth head, config_zoedepth.json): NYUv2 0.001-10 m, KITTI 0.001-80 m.
  'v1-metric-indoor': { ...officialConfig('v1', 'vitl'), zoe: releasedZoeConfig(10) },
  'v1-metric-outdoor': { ...officialConfig('v1', 'vitl'), zoe: releasedZoeConfig(80) },
} as const satisfies Record<string, ModelConfig>;

export type VariantName = keyof typeof VARIANTS;

export class ConfigError extends Error {
  constructor(message: string) { super(message); this.name = 'ConfigError'; }
}

/** The fixtures' `config.json` schema (snake_case), also stored in our safetensors metadata. */
export interface ConfigJson {
  version: Version;
  encoder: EncoderName;
  embed_dim?: number;
  depth?: number;
  heads?: number;
  ffn?: FfnKind;
  layers?: number[];
  features?: number;
  out_channels?: number[];
  use_bn?: boolean;
  use_clstoken?: boolean;
  max_depth?: number;
  patch_size?: number;
  pos_grid?: number;
  layer_scale?: boolean;
  norm_eps?: number;
  [extra: string]: unknown;
}

/**
 * Reads the fixtures' schema. Missing size fields default to the official model of that
 * encoder, so `{"version": "v2", "encoder": "vitl"}` is a complete config.
 */
export function configFromJson(json: unknown, source = 'config'): ModelConfig {
  if (typeof json !== 'object' || json === null) throw new ConfigError(`${source}: expected a JSON object`);
  const j = json as ConfigJson;
  const fail = (what: string): never => { throw new ConfigError(`${source}: ${what}`); };
  if (j.version !== 'v1' && j.version !== 'v2') fail(`"version" must be "v1" or "v2", got ${JSON.stringify(j.version)}`);
  if (!(j.encoder in ENCODERS)) fail(`"encoder" must be one of ${Object.keys(ENCODERS).join(', ')}, got ${JSON.stringify(j.encoder)}`);
  const base = officialConfig(j.version, j.encoder, j.max_depth ?? undefined);
  const posInt = (v: unknown, key: string): number => {
    if (!(typeof v === 'number' && Number.isInteger(v) && v > 0)) fail(`"${key}" must be a positive integer, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const cfg: ModelConfig = {
    ...base,
    embedDim: j.embed_dim === undefined ? base.embedDim : posInt(j.embed_dim, 'embed_dim'),
    depth: j.depth === undefined ? base.depth : posInt(j.depth, 'depth'),
    numHeads: j.heads === undefined ? base.numHeads : posInt(j.heads, 'heads'),
    ffn: j.ffn ?? base.ffn,
    patchSize: j.patch_size === undefined ? base.patchSize : posInt(j.patch_size, 'patch_size'),
    posGrid: j.pos_grid === undefined ? base.posGrid : posInt(j.pos_grid, 'pos_grid'),
    layerScale: j.layer_scale ?? base.layerScale,
    layerNormEps: j.norm_eps ?? base.layerNormEps,
    features: j.features === undefined ? base.features : posInt(j.features, 'features'),
    useBn: j.use_bn ?? base.useBn,
    useClsToken: j.use_clstoken ?? base.useClsToken,
  };
  if (cfg.ffn !== 'mlp' && cfg.ffn !== 'swiglu') fail(`"ffn" must be "mlp" or "swiglu", got ${JSON.stringify(cfg.ffn)}`);
  if (j.depth !== undefined && j.layers === undefined && j.version === 'v1') {
    cfg.intermediateLayers = [cfg.depth - 4, cfg.depth - 3, cfg.depth - 2, cfg.depth - 1];
  }
  if (j.layers !== undefined) {
    if (!Array.isArray(j.layers) || j.layers.length !== 4) fail(`"layers" must list 4 block indices, got ${JSON.stringify(j.layers)}`);
    cfg.intermediateLayers = j.layers.map((v) => (Number.isInteger(v) && v >= 0 && v < cfg.depth ? v : fail(`"layers" entry ${v} is not a block index below depth ${cfg.depth}`))) as ModelConfig['intermediateLayers'];
  }
  if (j.out_channels !== undefined) {
    if (!Array.isArray(j.out_channels) || j.out_channels.length !== 4) fail(`"out_channels" must list 4 widths, got ${JSON.stringify(j.out_channels)}`);
    cfg.outChannels = j.out_channels.map((v, i) => posInt(v, `out_channels[${i}]`)) as ModelConfig['outChannels'];
  }
  if (cfg.embedDim % cfg.numHeads !== 0) fail(`embed_dim ${cfg.embedDim} is not divisible by heads ${cfg.numHeads}`);
  if (cfg.maxDepth !== undefined && !(cfg.maxDepth > 0)) fail(`"max_depth" must be positive, got ${cfg.maxDepth}`);
  if (j.metric !== undefined && j.metric !== 'zoedepth') fail(`"metric" must be "zoedepth" when present, got ${JSON.stringify(j.metric)}`);
  if (j.metric === 'zoedepth' || j.zoe !== undefined) {
    if (cfg.maxDepth !== undefined) fail('"max_depth" (the V2 sigmoid head) and "zoe" (the ZoeDepth head) exclude each other');
    cfg.zoe = zoeConfigFromJson(j.zoe ?? {}, fail);
  }
  return cfg;
}

/** Writes the fixtures' schema (inverse of `configFromJson`). */
export function configToJson(cfg: ModelConfig): ConfigJson {
  return {
    version: cfg.version,
    encoder: cfg.encoder,
    embed_dim: cfg.embedDim,
    depth: cfg.depth,
    heads: cfg.numHeads,
    ffn: cfg.ffn,
    layers: [...cfg.intermediateLayers],
    features: cfg.features,
    out_channels: [...cfg.outChannels],
    use_bn: cfg.useBn,
    use_clstoken: cfg.useClsToken,
    ...(cfg.maxDepth !== undefined ? { max_depth: cfg.maxDepth } : {}),
    patch_size: cfg.patchSize,
    pos_grid: cfg.posGrid,
    layer_scale: cfg.layerScale,
    norm_eps: cfg.layerNormEps,
    ...(cfg.zoe ? { metric: 'zoedepth', zoe: zoeConfigToJson(cfg.zoe) } : {}),
  };
}

/** How a model's output reads, for messages: `relative`, `metric (max 20 m)`, `metric (ZoeDepth bins, 0.001-10 m)`. */
export function depthKind(cfg: ModelConfig): string {
  if (cfg.zoe) return `metric (ZoeDepth bins, ${cfg.zoe.minDepth}-${cfg.zoe.maxDepth} m)`;
  return cfg.maxDepth !== undefined ? `metric (max ${cfg.maxDepth} m)` : 'relative';
}

/** Metric models predict metres (sigmoid x max_depth, or ZoeDepth bins); relative ones affine-invariant disparity. */
export function isMetric(cfg: ModelConfig): boolean {
  return cfg.maxDepth !== undefined || cfg.zoe !== undefined;
}
