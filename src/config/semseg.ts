/**
 * Segmentation model configuration as plain data: the Depth Anything mmseg configs
 * (`semseg/config/depth_anything/*.py`) reduced to what inference reads, the two released models,
 * and the reading of an mmseg model dict (the fixtures' `config.json` "model", or the one our
 * converted files carry) into this form.
 */
import { ModelConfig, officialConfig } from './depth';

export type SegDataset = 'ade20k' | 'cityscapes';
export type SegMode = 'whole' | 'slide';

export interface SegTestCfg {
  mode: SegMode;
  /** Slide only: [h, w]. */
  crop?: [number, number];
  stride?: [number, number];
}

export interface SegConfig {
  /** The DINOv2 encoder (v1 layout: the last four blocks feed the neck, normalised). */
  backbone: ModelConfig;
  /** Feature2Pyramid width and rescales (the official [4, 2, 1, 0.5]). */
  neck: { embedDim: number; rescales: number[] };
  head: {
    inChannels: number[];
    featChannels: number;
    outChannels: number;
    numClasses: number;
    numQueries: number;
    numTransformerFeatLevel: number;
    /** MSDeformAttnPixelDecoder. */
    pixelDecoder: {
      strides: number[];
      gnGroups: number;
      encoderLayers: number;
      heads: number;
      numLevels: number;
      numPoints: number;
      ffn: number;
      posFeats: number;
    };
    /** Mask2FormerTransformerDecoder. */
    decoder: { layers: number; heads: number; ffn: number };
    posFeats: number;
  };
  /** SegDataPreProcessor: inputs uint8 BGR; mean/std in 0..255 after the channel flip. */
  preprocess: { mean: [number, number, number]; std: [number, number, number]; bgrToRgb: boolean; sizeDivisor?: number };
  /** The test pipeline's Resize(scale, keep_ratio=True); undefined: no resize. */
  testResize?: [number, number];
  test: SegTestCfg;
  dataset?: SegDataset;
}

export class SegConfigError extends Error {
  constructor(message: string) { super(message); this.name = 'SegConfigError'; }
}

const ADE_MEAN: [number, number, number] = [123.675, 116.28, 103.53];
const ADE_STD: [number, number, number] = [58.395, 57.12, 57.375];

/** The official ViT-L Mask2Former of `depth_anything_large_mask2former_16xb1_*_896x896.py`. */
function officialSeg(dataset: SegDataset): SegConfig {
  const C = 1024;
  return {
    backbone: officialConfig('v1', 'vitl'),
    neck: { embedDim: C, rescales: [4, 2, 1, 0.5] },
    head: {
      inChannels: [C, C, C, C],
      featChannels: C,
      outChannels: C,
      numClasses: dataset === 'ade20k' ? 150 : 19,
      numQueries: 200,
      numTransformerFeatLevel: 3,
      pixelDecoder: { strides: [4, 8, 16, 32], gnGroups: 32, encoderLayers: 6, heads: 32, numLevels: 3, numPoints: 4, ffn: 4096, posFeats: 512 },
      decoder: { layers: 9, heads: 32, ffn: 4096 },
      posFeats: 512,
    },
    preprocess: { mean: ADE_MEAN, std: ADE_STD, bgrToRgb: true },
    testResize: [3584, 896],
    test: { mode: 'slide', crop: [896, 896], stride: dataset === 'ade20k' ? [426, 426] : [518, 518] },
    dataset,
  };
}

/** The released models (Hugging Face space LiheYoung/Depth-Anything, `checkpoints_semseg/`). */
export const SEG_VARIANTS = {
  'seg-ade20k': officialSeg('ade20k'),
  'seg-cityscapes': officialSeg('cityscapes'),
} as const satisfies Record<string, SegConfig>;
export type SegVariantName = keyof typeof SEG_VARIANTS;

/** Release file names: ade20k_vitl_mIoU_59.4.pth, cityscapes_vitl_mIoU_86.4.pth. */
export function segVariantFromFileName(file: string): SegVariantName | undefined {
  const base = file.split(/[\\/]/).pop()!.toLowerCase();
  if (/ade20k/.test(base)) return 'seg-ade20k';
  if (/cityscapes/.test(base)) return 'seg-cityscapes';
  return undefined;
}

type Dict = Record<string, unknown>;

/**
 * Reads an mmseg model dict (`type: EncoderDecoder`, as config.json "model" or our metadata)
 * into a SegConfig. The DINOv2 sizes are not in it (the wrapper builds a fixed 'large' model);
 * they come from `backbone` (the tensors or the fixtures' "tiny" block).
 */
export function segConfigFromMmseg(model: unknown, backbone: ModelConfig, source = 'config'): SegConfig {
  const fail = (what: string): never => { throw new SegConfigError(`${source}: ${what}`); };
  const obj = (v: unknown, key: string): Dict => (typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Dict : fail(`"${key}" must be an object`));
  const num = (v: unknown, key: string): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : fail(`"${key}" must be a positive number, got ${JSON.stringify(v)}`));
  const m = obj(model, 'model');
  if (m.type !== 'EncoderDecoder') fail(`model type ${JSON.stringify(m.type)} is not EncoderDecoder`);
  const neck = obj(m.neck, 'neck');
  const head = obj(m.decode_head, 'decode_head');
  if (head.type !== 'Mask2FormerHead') fail(`decode_head type ${JSON.stringify(head.type)} is not Mask2FormerHead`);
  const pd = obj(head.pixel_decoder, 'decode_head.pixel_decoder');
  const enc = obj(pd.encoder, 'pixel_decoder.encoder');
  const encLayer = obj(enc.layer_cfg, 'pixel_decoder.encoder.layer_cfg');
  const msda = obj(encLayer.self_attn_cfg, 'pixel_decoder.encoder.layer_cfg.self_attn_cfg');
  const encFfn = obj(encLayer.ffn_cfg, 'pixel_decoder.encoder.layer_cfg.ffn_cfg');
  const td = obj(head.transformer_decoder, 'transformer_decoder');
  const tdLayer = obj(td.layer_cfg, 'transformer_decoder.layer_cfg');
  const cross = obj(tdLayer.cross_attn_cfg, 'transformer_decoder.layer_cfg.cross_attn_cfg');
  const tdFfn = obj(tdLayer.ffn_cfg, 'transformer_decoder.layer_cfg.ffn_cfg');
  const dp = obj(m.data_preprocessor, 'data_preprocessor');
  const testCfg = obj(m.test_cfg ?? { mode: 'whole' }, 'test_cfg');
  const nums = (v: unknown, key: string): number[] => (Array.isArray(v) ? v.map((x, i) => num(x, `${key}[${i}]`)) : fail(`"${key}" must be a list`));
  const pair = (v: unknown, key: string): [number, number] => {
    const a = nums(v, key);
    return a.length === 2 ? [a[0], a[1]] : fail(`"${key}" must have 2 entries`);
  };
  const triple = (v: unknown, key: string): [number, number, number] => {
    const a = (Array.isArray(v) ? v : fail(`"${key}" must be a list`)) as unknown[];
    if (a.length !== 3 || !a.every((x) => typeof x === 'number')) fail(`"${key}" must list 3 numbers`);
    return [a[0], a[1], a[2]] as [number, number, number];
  };
  const mode = testCfg.mode === 'slide' ? 'slide' : testCfg.mode === 'whole' ? 'whole' : fail(`test_cfg.mode must be "whole" or "slide", got ${JSON.stringify(testCfg.mode)}`);
  const dpTest = dp.test_cfg as Dict | undefined;
  const normCfg = obj(pd.norm_cfg ?? { num_groups: 32 }, 'pixel_decoder.norm_cfg');
  const posEnc = obj(head.positional_encoding ?? { num_feats: 128 }, 'decode_head.positional_encoding');
  const pdPos = obj(pd.positional_encoding ?? { num_feats: 128 }, 'pixel_decoder.positional_encoding');
  if (head.enforce_decoder_input_project) fail('enforce_decoder_input_project=True is not supported');
  const cfg: SegConfig = {
    backbone,
    neck: { embedDim: num(neck.embed_dim, 'neck.embed_dim'), rescales: nums(neck.rescales ?? [4, 2, 1, 0.5], 'neck.rescales') },
    head: {
      inChannels: nums(head.in_channels, 'decode_head.in_channels'),
      featChannels: num(head.feat_channels, 'decode_head.feat_channels'),
      outChannels: num(head.out_channels, 'decode_head.out_channels'),
      numClasses: num(head.num_classes, 'decode_head.num_classes'),
      numQueries: num(head.num_queries, 'decode_head.num_queries'),
      numTransformerFeatLevel: num(head.num_transformer_feat_level ?? 3, 'num_transformer_feat_level'),
      pixelDecoder: {
        strides: nums(pd.strides ?? [4, 8, 16, 32], 'pixel_decoder.strides'),
        gnGroups: num(normCfg.num_groups, 'pixel_decoder.norm_cfg.num_groups'),
        encoderLayers: num(enc.num_layers, 'pixel_decoder.encoder.num_layers'),
        heads: num(msda.num_heads, 'self_attn_cfg.num_heads'),
        numLevels: num(msda.num_levels, 'self_attn_cfg.num_levels'),
        numPoints: num(msda.num_points, 'self_attn_cfg.num_points'),
        ffn: num(encFfn.feedforward_channels, 'pixel_decoder ffn_cfg.feedforward_channels'),
        posFeats: num(pdPos.num_feats, 'pixel_decoder.positional_encoding.num_feats'),
      },
      decoder: { layers: num(td.num_layers, 'transformer_decoder.num_layers'), heads: num(cross.num_heads, 'cross_attn_cfg.num_heads'), ffn: num(tdFfn.feedforward_channels, 'transformer_decoder ffn_cfg.feedforward_channels') },
      posFeats: num(posEnc.num_feats, 'decode_head.positional_encoding.num_feats'),
    },
    preprocess: {
      mean: triple(dp.mean, 'data_preprocessor.mean'),
      std: triple(dp.std, 'data_preprocessor.std'),
      bgrToRgb: Boolean(dp.bgr_to_rgb),
      ...(dpTest?.size_divisor !== undefined ? { sizeDivisor: num(dpTest.size_divisor, 'data_preprocessor.test_cfg.size_divisor') } : {}),
    },
    test: mode === 'slide'
      ? { mode, crop: pair(testCfg.crop_size, 'test_cfg.crop_size'), stride: pair(testCfg.stride, 'test_cfg.stride') }
      : { mode },
  };
  validateSegConfig(cfg, source);
  return cfg;
}

/** Structural checks the official code would only fail deep inside (or silently). */
export function validateSegConfig(cfg: SegConfig, source = 'config'): void {
  const fail = (what: string): never => { throw new SegConfigError(`${source}: ${what}`); };
  const h = cfg.head;
  if (cfg.neck.rescales.join(',') !== '4,2,1,0.5') fail(`neck rescales ${JSON.stringify(cfg.neck.rescales)}: only [4, 2, 1, 0.5] (the Depth Anything config) is supported`);
  if (cfg.neck.embedDim !== cfg.backbone.embedDim) fail(`neck embed_dim ${cfg.neck.embedDim} differs from the encoder width ${cfg.backbone.embedDim}`);
  if (h.inChannels.length !== 4) fail('decode_head.in_channels must list 4 widths');
  if (h.pixelDecoder.numLevels !== h.numTransformerFeatLevel) fail('pixel decoder num_levels must equal num_transformer_feat_level');
  if (h.featChannels % h.pixelDecoder.heads || h.featChannels % h.decoder.heads) fail('feat_channels must be divisible by the attention heads');
  if (h.featChannels % h.pixelDecoder.gnGroups) fail('feat_channels must be divisible by the GroupNorm groups');
  if (h.posFeats * 2 !== h.featChannels || h.pixelDecoder.posFeats * 2 !== h.featChannels) fail('positional encoding num_feats must be feat_channels / 2');
  if (cfg.test.mode === 'slide') {
    const p = cfg.backbone.patchSize;
    const [ch, cw] = cfg.test.crop!;
    if (ch % p || cw % p) fail(`slide crop ${ch}x${cw} is not a multiple of the patch size ${p}`);
  }
}
