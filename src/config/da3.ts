/**
 * Depth Anything 3 configuration as plain data: the official yaml configs
 * (depth_anything_3/configs/*.yaml, commit 2c21ea8) as one table, and the fixtures'
 * `config.json` (`model_config` + `tiny`) read into the same shape.
 */
import { ENCODERS, EncoderName, FfnKind, ModelConfig } from './depth';

export type Da3Licence = 'Apache-2.0' | 'CC-BY-NC-4.0';

/** The backbone (`net:`): dinov2.DinoV2 with DA3's options. -1 switches a feature off. */
export interface Da3NetConfig {
  name: EncoderName;
  /** vit_small/base/large/giant2 fix these by `name`; the fixtures shrink them (`tiny`). */
  embedDim: number;
  depth: number;
  numHeads: number;
  /** `swiglu` for vitg (SwiGLUFFNFused), else `mlp`. */
  ffn: FfnKind;
  outLayers: [number, number, number, number];
  /** Blocks >= altStart with an odd index attend across all views; the camera token enters here. */
  altStart: number;
  qknormStart: number;
  ropeStart: number;
  /** Intermediate outputs are [local, norm(global)] (2C) instead of norm(x) (C). */
  catToken: boolean;
}

/** `head:` DualDPT (any-view: depth + ray) or DPT (mono/metric: exp depth + relu sky). */
export interface Da3HeadConfig {
  kind: 'dualdpt' | 'dpt';
  dimIn: number;
  outputDim: number;
  features: number;
  outChannels: [number, number, number, number];
}

export interface Da3Config {
  net: Da3NetConfig;
  head: Da3HeadConfig;
  /** CameraEnc `dim_out` (its trunk: 4 blocks, 16 heads, LayerNorm eps 1e-5); absent for mono. */
  camEnc?: { dimOut: number };
  /** CameraDec `dim_in`; absent for mono. */
  camDec?: { dimIn: number };
}

/** CameraEnc's fixed constructor defaults (cam_enc.py). */
export const CAM_ENC = { trunkDepth: 4, numHeads: 16, mlpRatio: 4, dimIn: 9 } as const;
/** Views at or above which the reference view is selected and moved first (utils/constants.py). */
export const THRESH_FOR_REF_SELECTION = 3;
export const PATCH_SIZE = 14;
/**
 * The official heads run views in chunks of 8 (`chunk_size=8`): each view's maps are its own, so
 * the chunk only bounds memory. This port runs one view at a time (a head pass over 8 views at
 * 504x504 holds about 6 GiB of maps, past wasm's 4 GiB heap); all at once only when tapping.
 */
export const HEAD_CHUNK = 1;
/** img_size 518 / 14: the position-embedding table's side. */
export const POS_GRID = 37;

const net = (name: EncoderName, outLayers: Da3NetConfig['outLayers'], alt: number, catToken: boolean): Da3NetConfig => ({
  name, embedDim: ENCODERS[name].embedDim, depth: ENCODERS[name].depth, numHeads: ENCODERS[name].numHeads,
  ffn: name === 'vitg' ? 'swiglu' : 'mlp', outLayers, altStart: alt, qknormStart: alt, ropeStart: alt, catToken,
});

const anyview = (name: EncoderName, outLayers: Da3NetConfig['outLayers'], alt: number, features: number, outChannels: Da3HeadConfig['outChannels']): Da3Config => {
  const C = ENCODERS[name].embedDim;
  return {
    net: net(name, outLayers, alt, true),
    head: { kind: 'dualdpt', dimIn: 2 * C, outputDim: 2, features, outChannels },
    camEnc: { dimOut: C },
    camDec: { dimIn: 2 * C },
  };
};

const mono = (): Da3Config => ({
  net: net('vitl', [4, 11, 17, 23], -1, false),
  head: { kind: 'dpt', dimIn: 1024, outputDim: 1, features: 256, outChannels: [256, 512, 1024, 1024] },
});

export interface Da3Variant {
  config: Da3Config;
  licence: Da3Licence;
  /** Hugging Face repository of the release. */
  repo: string;
  /** DA3METRIC-LARGE: metres = focal * depth / 300 (focal in pixels at the processed size). */
  metric?: boolean;
}

/**
 * Every released model (the yaml configs). The nested model (DA3NESTED-GIANT-LARGE) is DA3-GIANT
 * and DA3METRIC-LARGE composed (NestedDepthAnything3Net), CC BY-NC 4.0; it is not built here.
 * DA3-GIANT's 3DGS head (gs_head, gs_adapter) is not built: its keys are ignored.
 */
export const DA3_VARIANTS = {
  'da3-small': { config: anyview('vits', [5, 7, 9, 11], 4, 64, [48, 96, 192, 384]), licence: 'Apache-2.0', repo: 'depth-anything/DA3-SMALL' },
  'da3-base': { config: anyview('vitb', [5, 7, 9, 11], 4, 128, [96, 192, 384, 768]), licence: 'Apache-2.0', repo: 'depth-anything/DA3-BASE' },
  'da3-large': { config: anyview('vitl', [11, 15, 19, 23], 8, 256, [256, 512, 1024, 1024]), licence: 'CC-BY-NC-4.0', repo: 'depth-anything/DA3-LARGE' },
  'da3-giant': { config: anyview('vitg', [19, 27, 33, 39], 13, 256, [256, 512, 1024, 1024]), licence: 'CC-BY-NC-4.0', repo: 'depth-anything/DA3-GIANT' },
  'da3mono-large': { config: mono(), licence: 'Apache-2.0', repo: 'depth-anything/DA3MONO-LARGE' },
  'da3metric-large': { config: mono(), licence: 'Apache-2.0', repo: 'depth-anything/DA3METRIC-LARGE', metric: true },
} as const satisfies Record<string, Da3Variant>;

export type Da3VariantName = keyof typeof DA3_VARIANTS;

export class Da3ConfigError extends Error {
  constructor(message: string) { super(message); this.name = 'Da3ConfigError'; }
}

const HEAD_KINDS: Record<string, Da3HeadConfig['kind']> = { DualDPT: 'dualdpt', DPT: 'dpt' };

/**
 * The fixtures' `config.json`: `model_config` (the yaml as data, with `__object__` class names)
 * and `tiny` (the ViT sizes the official `vit_*` would otherwise fix by name).
 */
export function da3ConfigFromJson(json: unknown, source: string): Da3Config {
  const fail = (what: string): never => { throw new Da3ConfigError(`${source}: ${what}`); };
  const j = json as Record<string, any>;
  const mc = j?.model_config as Record<string, any> | undefined;
  if (!mc || typeof mc !== 'object' || !mc.net || !mc.head) fail('not a Depth Anything 3 config.json (no model_config with net and head)');
  const n = mc!.net;
  const name = n.name as EncoderName;
  if (!(name in ENCODERS)) fail(`model_config.net.name must be vits, vitb, vitl or vitg; got ${JSON.stringify(n.name)}`);
  const tiny = j.tiny as Record<string, number> | undefined;
  const e = ENCODERS[name];
  const four = (v: unknown, what: string): [number, number, number, number] => {
    if (!Array.isArray(v) || v.length !== 4 || !v.every((x) => Number.isInteger(x))) fail(`${what} must be 4 integers; got ${JSON.stringify(v)}`);
    return v as [number, number, number, number];
  };
  const headKind = HEAD_KINDS[mc!.head.__object__?.name as string];
  if (!headKind) fail(`model_config.head must be DualDPT or DPT; got ${JSON.stringify(mc!.head.__object__?.name)}`);
  const int = (v: unknown, fallback: number) => (v === undefined ? fallback : Number(v));
  const cfg: Da3Config = {
    net: {
      name,
      embedDim: int(tiny?.embed_dim, e.embedDim),
      depth: int(tiny?.depth, e.depth),
      numHeads: int(tiny?.heads, e.numHeads),
      ffn: name === 'vitg' ? 'swiglu' : 'mlp',
      outLayers: four(n.out_layers, 'model_config.net.out_layers'),
      altStart: int(n.alt_start, -1),
      qknormStart: int(n.qknorm_start, -1),
      ropeStart: int(n.rope_start, -1),
      catToken: n.cat_token === undefined ? true : Boolean(n.cat_token),
    },
    head: {
      kind: headKind!,
      dimIn: int(mc!.head.dim_in, 0),
      outputDim: int(mc!.head.output_dim, headKind === 'dualdpt' ? 2 : 1),
      features: int(mc!.head.features, 256),
      outChannels: four(mc!.head.out_channels ?? [256, 512, 1024, 1024], 'model_config.head.out_channels'),
    },
    ...(mc!.cam_enc ? { camEnc: { dimOut: int(mc!.cam_enc.dim_out, 1024) } } : {}),
    ...(mc!.cam_dec ? { camDec: { dimIn: int(mc!.cam_dec.dim_in, 1536) } } : {}),
  };
  checkDa3Config(cfg, source);
  return cfg;
}

/** The sizes that must agree for the official code to build at all. */
export function checkDa3Config(cfg: Da3Config, source: string): void {
  const { net: n, head: h } = cfg;
  const problems: string[] = [];
  if (n.embedDim % n.numHeads !== 0) problems.push(`embed_dim ${n.embedDim} is not a multiple of heads ${n.numHeads}`);
  if (n.outLayers.some((i) => i < 0 || i >= n.depth)) problems.push(`out_layers ${n.outLayers.join(',')} must lie in 0..${n.depth - 1}`);
  const width = n.catToken ? 2 * n.embedDim : n.embedDim;
  if (h.dimIn !== width) problems.push(`head.dim_in ${h.dimIn} must be ${width} (${n.catToken ? '2 x ' : ''}embed_dim)`);
  if (h.kind === 'dualdpt' && h.outputDim !== 2) problems.push(`DualDPT output_dim must be 2 (depth, confidence); got ${h.outputDim}`);
  if (h.kind === 'dpt' && h.outputDim !== 1) problems.push(`DPT output_dim 1 is the only one built (depth without confidence); got ${h.outputDim}`);
  if (n.ropeStart !== -1 && (n.embedDim / n.numHeads) % 4 !== 0) problems.push(`2D RoPE needs a head dim that is a multiple of 4; got ${n.embedDim / n.numHeads}`);
  if (cfg.camDec && cfg.camDec.dimIn !== width) problems.push(`cam_dec.dim_in ${cfg.camDec.dimIn} must be ${width}`);
  if (cfg.camEnc && cfg.camEnc.dimOut !== n.embedDim) problems.push(`cam_enc.dim_out ${cfg.camEnc.dimOut} must be embed_dim ${n.embedDim}`);
  if (cfg.camEnc && cfg.camEnc.dimOut % CAM_ENC.numHeads !== 0) problems.push(`cam_enc.dim_out ${cfg.camEnc.dimOut} is not a multiple of its ${CAM_ENC.numHeads} heads`);
  if (problems.length) throw new Da3ConfigError(`${source}: not a buildable Depth Anything 3 configuration: ${problems.join('; ')}`);
}

/**
 * The DINOv2 configuration the shared blocks (src/dinov2) read: block LayerNorms eps 1e-6,
 * LayerScale, patch 14, the 37 x 37 table and offset 0.1. (The final norm and the QK norms are
 * nn.LayerNorm's default 1e-5; src/da3 passes that itself.)
 */
export function da3EncoderModelConfig(n: Da3NetConfig): ModelConfig {
  return {
    version: 'v2', encoder: n.name, embedDim: n.embedDim, depth: n.depth, numHeads: n.numHeads, ffn: n.ffn,
    patchSize: PATCH_SIZE, posGrid: POS_GRID, layerScale: true, layerNormEps: 1e-6, interpolateOffset: 0.1,
    intermediateLayers: n.outLayers, features: 0, outChannels: [0, 0, 0, 0], useBn: false, useClsToken: false,
  };
}

/** CameraEnc's trunk blocks as a DINOv2-block configuration (utils/block.Block: LayerNorm eps 1e-5, qkv bias, LayerScale 0.01). */
export function camEncBlockConfig(dimOut: number): ModelConfig {
  return {
    version: 'v2', encoder: 'vits', embedDim: dimOut, depth: CAM_ENC.trunkDepth, numHeads: CAM_ENC.numHeads, ffn: 'mlp',
    patchSize: PATCH_SIZE, posGrid: POS_GRID, layerScale: true, layerNormEps: 1e-5, interpolateOffset: 0.1,
    intermediateLayers: [0, 0, 0, 0], features: 0, outChannels: [0, 0, 0, 0], useBn: false, useClsToken: false,
  };
}
