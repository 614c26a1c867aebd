/**
 * The configuration of a Video Depth Anything state dict: from a given one, one our safetensors
 * record (`__metadata__.vda_config`), or the tensors (official encoder sizes) plus the release
 * file name (`metric_video_depth_anything_*`: a metric model, which only changes the pipeline).
 */
import { ENCODERS } from '../config/depth';
import { VdaConfig, vdaConfig, vdaConfigFromJson } from '../config/vda';
import { StateDict, WeightsError } from './state_dict';

export interface VdaResolveInputs {
  config?: VdaConfig;
  /** `__metadata__.vda_config` of our safetensors (JSON text). */
  recorded?: string;
  fileName?: string;
  /** Overrides what the file name says. */
  metric?: boolean;
}

/** Metric per the official release names; undefined when the name is not one. */
export function vdaMetricFromFileName(file: string): boolean | undefined {
  const base = (file.split(/[\\/]/).pop() ?? file).toLowerCase();
  if (/metric_video_depth_anything_vit[sbl]\b/.test(base)) return true;
  if (/video_depth_anything_vit[sbl]\b/.test(base)) return false;
  return undefined;
}

export function resolveVdaConfig(sd: StateDict, source: string, inputs: VdaResolveInputs = {}): VdaConfig {
  const shape = (k: string): number[] => {
    const t = sd.get(k);
    if (!t) throw new WeightsError(`${source}: not a Video Depth Anything state dict: ${k} is missing`);
    return t.shape;
  };
  const embedDim = shape('pretrained.pos_embed')[2];
  let depth = 0;
  for (const k of sd.keys()) {
    const m = /^pretrained\.blocks\.(\d+)\./.exec(k);
    if (m) depth = Math.max(depth, Number(m[1]) + 1);
  }
  let cfg = inputs.config ?? (inputs.recorded !== undefined ? vdaConfigFromJson(JSON.parse(inputs.recorded), `${source} (__metadata__.vda_config)`) : undefined);
  if (!cfg) {
    const encoder = (['vits', 'vitb', 'vitl'] as const).find((e) => ENCODERS[e].embedDim === embedDim && ENCODERS[e].depth === depth);
    if (!encoder) throw new WeightsError(`${source}: the encoder (embed_dim ${embedDim}, depth ${depth}) is not an official VDA size (vits, vitb, vitl), so its heads and feature layers cannot be read from the tensors; pass --config FILE (the fixtures' config.json schema)`);
    const base = vdaConfig(encoder, false);
    cfg = {
      ...base,
      model: {
        ...base.model,
        features: shape('head.scratch.layer1_rn.weight')[0],
        outChannels: [0, 1, 2, 3].map((i) => shape(`head.projects.${i}.weight`)[0]) as VdaConfig['model']['outChannels'],
        useBn: sd.has('head.scratch.refinenet1.resConfUnit1.bn1.weight'),
        useClsToken: sd.has('head.readout_projects.0.0.weight'),
      },
      temporal: { ...base.temporal, maxLen: shape('head.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.0.pos_encoder.pe')[1] },
    };
  }
  const metric = inputs.metric ?? (inputs.fileName ? vdaMetricFromFileName(inputs.fileName) : undefined);
  if (metric !== undefined) cfg = { ...cfg, metric };
  if (cfg.model.embedDim !== embedDim || cfg.model.depth !== depth) {
    throw new WeightsError(`${source}: the configuration (embed_dim ${cfg.model.embedDim}, depth ${cfg.model.depth}) does not match the weights (embed_dim ${embedDim}, depth ${depth})`);
  }
  return cfg;
}
