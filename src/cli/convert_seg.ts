/**
 * Segmentation checkpoints -> our safetensors: mmseg key names and PyTorch shapes as they are,
 * with `__metadata__` format "mmseg" and a config in the fixtures' config.json form (the mmseg
 * model dict, the encoder heads, the test pipeline's Resize, the class names and palette), so the
 * converted file needs no flags. Called by `convert` when IN is a segmentation model.
 */
import * as path from 'path';
import { OutDtype, writeSafetensorsFile } from '../node/safetensors_file';
import { SegConfig } from '../config/semseg';
import { SegMetainfo } from '../semseg/metainfo';
import { loadSegWeightsFile } from '../node/seg_weights';

/** SegConfig -> the fixtures' config.json form (what `segConfigFromJson` reads back). */
export function segConfigToJson(cfg: SegConfig, meta: SegMetainfo): Record<string, unknown> {
  const h = cfg.head;
  const pd = h.pixelDecoder;
  const test = cfg.test.mode === 'slide' ? { mode: 'slide', crop_size: cfg.test.crop, stride: cfg.test.stride } : { mode: 'whole' };
  return {
    model: {
      type: 'EncoderDecoder',
      data_preprocessor: {
        type: 'SegDataPreProcessor', mean: cfg.preprocess.mean, std: cfg.preprocess.std, bgr_to_rgb: cfg.preprocess.bgrToRgb,
        ...(cfg.preprocess.sizeDivisor ? { test_cfg: { size_divisor: cfg.preprocess.sizeDivisor } } : {}),
      },
      backbone: { type: 'DINOv2', version: 'large' },
      neck: { type: 'Feature2Pyramid', embed_dim: cfg.neck.embedDim, rescales: cfg.neck.rescales },
      decode_head: {
        type: 'Mask2FormerHead', in_channels: h.inChannels, feat_channels: h.featChannels, out_channels: h.outChannels,
        num_classes: h.numClasses, num_queries: h.numQueries, num_transformer_feat_level: h.numTransformerFeatLevel,
        pixel_decoder: {
          type: 'mmdet.MSDeformAttnPixelDecoder', strides: pd.strides, norm_cfg: { type: 'GN', num_groups: pd.gnGroups },
          encoder: { num_layers: pd.encoderLayers, layer_cfg: { self_attn_cfg: { num_heads: pd.heads, num_levels: pd.numLevels, num_points: pd.numPoints }, ffn_cfg: { feedforward_channels: pd.ffn } } },
          positional_encoding: { num_feats: pd.posFeats, normalize: true },
        },
        positional_encoding: { num_feats: h.posFeats, normalize: true },
        transformer_decoder: { num_layers: h.decoder.layers, layer_cfg: { cross_attn_cfg: { num_heads: h.decoder.heads }, ffn_cfg: { feedforward_channels: h.decoder.ffn } } },
      },
      test_cfg: test,
    },
    test_cfg: test,
    tiny: { embed_dim: cfg.backbone.embedDim, depth: cfg.backbone.depth, heads: cfg.backbone.numHeads },
    ...(cfg.testResize ? { pipeline: [{ type: 'LoadImageFromFile' }, { type: 'Resize', scale: cfg.testResize, keep_ratio: true }, { type: 'PackSegInputs' }] } : {}),
    ...(cfg.dataset ? { dataset: cfg.dataset } : {}),
    dataset_meta: { classes: meta.classes, palette: meta.palette },
  };
}

export async function convertSegWeights(input: string, output: string, opts: { config?: string; dtype?: OutDtype } = {}): Promise<string> {
  const loaded = await loadSegWeightsFile(input, { config: opts.config });
  const dtype = opts.dtype ?? 'f32';
  const metadata = { format: 'mmseg', config: JSON.stringify(segConfigToJson(loaded.config, loaded.metainfo)), converted_from: path.basename(input) };
  const bytes = await writeSafetensorsFile(output, loaded.stateDict, metadata, dtype);
  let parameters = 0;
  for (const t of loaded.stateDict.values()) parameters += t.data.length;
  const c = loaded.config;
  return [
    `wrote ${output}`,
    `  model:      Mask2Former segmentation, DINOv2 width ${c.backbone.embedDim} x ${c.backbone.depth}, ${c.head.numClasses} classes (configuration from ${loaded.configFrom}; classes from ${loaded.metainfoFrom})`,
    `  parameters: ${(parameters / 1e6).toFixed(1)}M in ${loaded.stateDict.size} tensors`,
    `  dtype:      ${dtype}`,
    `  size:       ${(bytes / 1e6).toFixed(1)} MB`,
  ].join('\n');
}
