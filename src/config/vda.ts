/**
 * Video Depth Anything (DepthAnything/Video-Depth-Anything, commit 4f5ae23) as plain data: the V2
 * DINOv2 encoder and DPT head of `model` (src/config/depth.ts), the temporal modules' fixed parts
 * (`DPTHeadTemporal` builds them with these constants), and the pipeline constants of
 * `video_depth.py` / `video_depth_stream.py` ("infer settings, do not change").
 */
import { ConfigError, ENCODERS, EncoderName, ModelConfig, officialConfig } from './depth';

/** `TemporalModule` as `DPTHeadTemporal` builds it (motion_module.py defaults + its kwargs). */
export interface TemporalConfig {
  numAttentionHeads: number;
  numAttentionBlocks: number;
  normNumGroups: number;
  groupNormEps: number;
  layerNormEps: number;
  /** GEGLU inner width = ffMult x C (the projection is 2 x that). */
  ffMult: number;
  /** Rows of the sinusoidal `pos_encoder.pe` table (`num_frames`). */
  maxLen: number;
}

export interface VdaConfig {
  /** The encoder and DPT sizes (V2 layer indices per encoder; relative ReLU output). */
  model: ModelConfig;
  temporal: TemporalConfig;
  /** Metric checkpoints: `infer_video_depth` skips the scale/shift fit (scale 1, shift 0). */
  metric: boolean;
  /** The tail (refinenet2, refinenet1, output convs) runs per micro-batch of this many frames. */
  microBatch: number;
}

export const TEMPORAL: Readonly<TemporalConfig> = {
  numAttentionHeads: 8,
  numAttentionBlocks: 2,
  normNumGroups: 32,
  groupNormEps: 1e-6,
  layerNormEps: 1e-5,
  ffMult: 4,
  maxLen: 32,
};

/** video_depth.py: windows of INFER_LEN frames overlapping by OVERLAP, KEYFRAMES reused, INTERP_LEN blended. */
export const VDA_PIPELINE = {
  inferLen: 32,
  overlap: 10,
  keyframes: [0, 12, 24, 25, 26, 27, 28, 29, 30, 31],
  interpLen: 8,
} as const;

export function vdaConfig(encoder: 'vits' | 'vitb' | 'vitl', metric: boolean): VdaConfig {
  return { model: officialConfig('v2', encoder), temporal: { ...TEMPORAL }, metric, microBatch: 4 };
}

/** The released checkpoints: file names of the official Hugging Face repositories, and licences. */
export const VDA_VARIANTS = {
  'vda-small': { config: vdaConfig('vits', false), file: 'video_depth_anything_vits.pth', repo: 'depth-anything/Video-Depth-Anything-Small', licence: 'Apache-2.0' },
  'vda-base': { config: vdaConfig('vitb', false), file: 'video_depth_anything_vitb.pth', repo: 'depth-anything/Video-Depth-Anything-Base', licence: 'CC-BY-NC-4.0' },
  'vda-large': { config: vdaConfig('vitl', false), file: 'video_depth_anything_vitl.pth', repo: 'depth-anything/Video-Depth-Anything-Large', licence: 'CC-BY-NC-4.0' },
  'vda-metric-small': { config: vdaConfig('vits', true), file: 'metric_video_depth_anything_vits.pth', repo: 'depth-anything/Metric-Video-Depth-Anything-Small', licence: 'Apache-2.0' },
  'vda-metric-base': { config: vdaConfig('vitb', true), file: 'metric_video_depth_anything_vitb.pth', repo: 'depth-anything/Metric-Video-Depth-Anything-Base', licence: 'CC-BY-NC-4.0' },
  'vda-metric-large': { config: vdaConfig('vitl', true), file: 'metric_video_depth_anything_vitl.pth', repo: 'depth-anything/Metric-Video-Depth-Anything-Large', licence: 'CC-BY-NC-4.0' },
} as const satisfies Record<string, { config: VdaConfig; file: string; repo: string; licence: string }>;

export type VdaVariantName = keyof typeof VDA_VARIANTS;

/**
 * The fixtures' `config.json` (`model` block: the `VideoDepthAnything` arguments plus the tiny
 * DINOv2's sizes and `temporal`), or such a block itself. Sizes not given are the encoder's official ones.
 */
export function vdaConfigFromJson(json: unknown, source = 'config'): VdaConfig {
  const fail = (what: string): never => { throw new ConfigError(`${source}: ${what}`); };
  if (typeof json !== 'object' || json === null) fail('expected a JSON object');
  const outer = json as Record<string, unknown>;
  const j = (typeof outer.model === 'object' && outer.model !== null ? outer.model : outer) as Record<string, unknown>;
  const encoder = j.encoder as EncoderName;
  if (encoder !== 'vits' && encoder !== 'vitb' && encoder !== 'vitl') fail(`"encoder" must be vits, vitb or vitl; got ${JSON.stringify(j.encoder)}`);
  const base = officialConfig('v2', encoder);
  const num = (key: string, dflt: number): number => {
    const v = j[key];
    if (v === undefined) return dflt;
    if (!(typeof v === 'number' && Number.isFinite(v) && v > 0)) fail(`"${key}" must be a positive number; got ${JSON.stringify(v)}`);
    return v as number;
  };
  const list4 = (key: string, dflt: readonly number[]): [number, number, number, number] => {
    const v = j[key];
    if (v === undefined) return [...dflt] as [number, number, number, number];
    if (!Array.isArray(v) || v.length !== 4 || !v.every((x) => Number.isInteger(x) && x >= 0)) fail(`"${key}" must list 4 non-negative integers; got ${JSON.stringify(v)}`);
    return [...(v as number[])] as [number, number, number, number];
  };
  const model: ModelConfig = {
    ...base,
    embedDim: num('embed_dim', ENCODERS[encoder].embedDim),
    depth: num('depth', ENCODERS[encoder].depth),
    numHeads: num('heads', ENCODERS[encoder].numHeads),
    patchSize: num('patch_size', 14),
    posGrid: num('pos_grid', 37),
    layerNormEps: num('norm_eps', 1e-6),
    interpolateOffset: num('interpolate_offset', 0.1),
    intermediateLayers: list4('layers', base.intermediateLayers),
    features: num('features', base.features),
    outChannels: list4('out_channels', base.outChannels),
    useBn: j.use_bn === undefined ? false : Boolean(j.use_bn),
    useClsToken: j.use_clstoken === undefined ? false : Boolean(j.use_clstoken),
  };
  if (model.intermediateLayers.some((l) => l >= model.depth)) fail(`"layers" ${JSON.stringify(model.intermediateLayers)} must be blocks below depth ${model.depth}`);
  if (j.pe !== undefined && j.pe !== 'ape') fail(`"pe" must be "ape" (the released models; "rope" is not implemented); got ${JSON.stringify(j.pe)}`);
  const t = (j.temporal ?? {}) as Record<string, unknown>;
  const tnum = (key: string, dflt: number): number => (typeof t[key] === 'number' ? (t[key] as number) : dflt);
  const temporal: TemporalConfig = {
    numAttentionHeads: tnum('num_attention_heads', TEMPORAL.numAttentionHeads),
    numAttentionBlocks: tnum('num_attention_blocks', TEMPORAL.numAttentionBlocks),
    normNumGroups: tnum('norm_num_groups', TEMPORAL.normNumGroups),
    groupNormEps: tnum('group_norm_eps', TEMPORAL.groupNormEps),
    layerNormEps: tnum('layer_norm_eps', TEMPORAL.layerNormEps),
    ffMult: tnum('ff_mult', TEMPORAL.ffMult),
    maxLen: num('num_frames', tnum('temporal_max_len', TEMPORAL.maxLen)),
  };
  if (t.num_transformer_block !== undefined && t.num_transformer_block !== 1) fail('"temporal.num_transformer_block" must be 1 (DPTHeadTemporal builds one)');
  for (const c of [model.outChannels[2], model.outChannels[3], model.features]) {
    if (c % temporal.normNumGroups !== 0 || c % temporal.numAttentionHeads !== 0) fail(`temporal module width ${c} must be divisible by ${temporal.normNumGroups} groups and ${temporal.numAttentionHeads} heads`);
  }
  return { model, temporal, metric: Boolean(j.metric), microBatch: num('micro_batch_size', 4) };
}

/** Writes the schema `vdaConfigFromJson` reads (kept in our safetensors' `__metadata__.vda_config`). */
export function vdaConfigToJson(c: VdaConfig): Record<string, unknown> {
  const m = c.model;
  return {
    encoder: m.encoder, embed_dim: m.embedDim, depth: m.depth, heads: m.numHeads, layers: [...m.intermediateLayers],
    features: m.features, out_channels: [...m.outChannels], use_bn: m.useBn, use_clstoken: m.useClsToken,
    num_frames: c.temporal.maxLen, pe: 'ape', metric: c.metric, patch_size: m.patchSize, pos_grid: m.posGrid,
    norm_eps: m.layerNormEps, interpolate_offset: m.interpolateOffset, micro_batch_size: c.microBatch,
    temporal: {
      num_attention_heads: c.temporal.numAttentionHeads, num_transformer_block: 1, num_attention_blocks: c.temporal.numAttentionBlocks,
      norm_num_groups: c.temporal.normNumGroups, group_norm_eps: c.temporal.groupNormEps, layer_norm_eps: c.temporal.layerNormEps,
      ff_mult: c.temporal.ffMult, temporal_max_len: c.temporal.maxLen,
    },
  };
}
