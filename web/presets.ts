/**
 * The models the demo offers in one click: every official depth model the library loads (the
 * names and files of src/node/hub.ts OFFICIAL_MODELS, checked by test/browser/presets.test.ts),
 * with its download size and licence. Plain data: a new family (Depth Anything 3, Video Depth
 * Anything) adds rows with its `mode`, and the mode that runs them lists them.
 */
import { DA3_VARIANTS } from '../src/config/da3';
import { VDA_VARIANTS } from '../src/config/vda';
import { da3ParameterCount } from '../src/da3/limits';

export interface ModelPreset {
  /** The official name (`depth-anything download NAME`). */
  name: string;
  label: string;
  /** Hugging Face repository and file, as OFFICIAL_MODELS gives them. */
  repo: string;
  file: string;
  /** Download size in MB (float32 checkpoint; from the parameter count). */
  mb: number;
  licence: 'Apache-2.0' | 'CC-BY-NC-4.0';
  output: 'relative' | 'metric';
  /** Which page mode runs it. */
  mode: 'single' | 'multiview' | 'stream';
}

// Parameter counts of the official model cards: S 24.8M, B 97.5M, L 335.3M (4 bytes each).
const MB = { vits: 99, vitb: 390, vitl: 1341 } as const;
const SIZE = { vits: 'Small', vitb: 'Base', vitl: 'Large' } as const;
type Enc = keyof typeof MB;
// V2: Small Apache-2.0; Base and Large CC-BY-NC-4.0 (the official README). V1: Apache-2.0.
const v2Licence = (e: Enc): ModelPreset['licence'] => (e === 'vits' ? 'Apache-2.0' : 'CC-BY-NC-4.0');

const v2 = (e: Enc): ModelPreset => ({
  name: `v2-${SIZE[e].toLowerCase()}`, label: `Depth Anything V2 ${SIZE[e]}`, repo: `depth-anything/Depth-Anything-V2-${SIZE[e]}`,
  file: `depth_anything_v2_${e}.pth`, mb: MB[e], licence: v2Licence(e), output: 'relative', mode: 'single',
});
const v1 = (e: Enc): ModelPreset => ({
  name: `v1-${SIZE[e].toLowerCase()}`, label: `Depth Anything V1 ${SIZE[e]}`, repo: 'spaces/LiheYoung/Depth-Anything',
  file: `checkpoints/depth_anything_${e}14.pth`, mb: MB[e], licence: 'Apache-2.0', output: 'relative', mode: 'single',
});
const metric = (where: 'indoor' | 'outdoor', e: Enc): ModelPreset => {
  const set = where === 'indoor' ? 'Hypersim' : 'VKITTI';
  return {
    name: `metric-${where}-${SIZE[e].toLowerCase()}`, label: `V2 Metric ${where === 'indoor' ? 'Indoor (Hypersim, 20 m)' : 'Outdoor (Virtual KITTI, 80 m)'} ${SIZE[e]}`,
    repo: `depth-anything/Depth-Anything-V2-Metric-${set}-${SIZE[e]}`, file: `depth_anything_v2_metric_${set.toLowerCase()}_${e}.pth`,
    mb: MB[e], licence: v2Licence(e), output: 'metric', mode: 'single',
  };
};
const v1Metric = (where: 'indoor' | 'outdoor'): ModelPreset => ({
  name: `v1-metric-${where}`, label: `V1 Metric ${where === 'indoor' ? 'Indoor (NYUv2, 10 m)' : 'Outdoor (KITTI, 80 m)'} (ZoeDepth, Large)`,
  repo: 'spaces/LiheYoung/Depth-Anything', file: `checkpoints_metric_depth/depth_anything_metric_depth_${where}.pt`,
  // ViT-L and the ZoeDepth head.
  mb: 1400, licence: 'Apache-2.0', output: 'metric', mode: 'single',
});

/** Depth Anything 3 any-view releases (the "several photos -> 3D" mode), sizes from their parameters. */
const da3 = (name: 'da3-small' | 'da3-base' | 'da3-large' | 'da3-giant', retrained = false): ModelPreset => {
  const v = DA3_VARIANTS[name];
  return {
    name: retrained ? `${name}-1.1` : name, label: `Depth Anything 3 ${name.slice(4).toUpperCase()}${retrained ? ' 1.1' : ''}`,
    repo: retrained ? `${v.repo}-1.1` : v.repo, file: 'model.safetensors', mb: Math.round((da3ParameterCount(v.config) * 4) / 1e6),
    licence: v.licence, output: 'relative', mode: 'multiview',
  };
};
/** Video Depth Anything (the live video mode). Parameters of the official model cards. */
const VDA_MB = { vits: 114, vitb: 452, vitl: 1527 } as const;
const vda = (name: keyof typeof VDA_VARIANTS): ModelPreset => {
  const v = VDA_VARIANTS[name];
  const enc = v.config.model.encoder as keyof typeof VDA_MB;
  return {
    name, label: `Video Depth Anything ${v.config.metric ? 'Metric ' : ''}${SIZE[enc]}`, repo: v.repo, file: v.file,
    mb: VDA_MB[enc], licence: v.licence, output: v.config.metric ? 'metric' : 'relative', mode: 'stream',
  };
};

export const MODEL_PRESETS: readonly ModelPreset[] = [
  v2('vits'), v2('vitb'), v2('vitl'),
  v1('vits'), v1('vitb'), v1('vitl'),
  metric('indoor', 'vits'), metric('indoor', 'vitb'), metric('indoor', 'vitl'),
  metric('outdoor', 'vits'), metric('outdoor', 'vitb'), metric('outdoor', 'vitl'),
  v1Metric('indoor'), v1Metric('outdoor'),
  da3('da3-small'), da3('da3-base'), da3('da3-large'), da3('da3-large', true), da3('da3-giant'), da3('da3-giant', true),
  vda('vda-small'), vda('vda-base'), vda('vda-large'), vda('vda-metric-small'), vda('vda-metric-base'), vda('vda-metric-large'),
];

/**
 * Official models the page does not offer: Depth Anything 3's single-image releases (MONO, METRIC)
 * run from the command line and the library; the page's DA3 mode reconstructs scenes, which needs
 * an any-view model.
 */
export const NOT_IN_THE_PAGE: readonly string[] = ['da3mono-large', 'da3metric-large'];

/** The presets one mode lists, as its model picker shows them. */
export function presetsFor(mode: ModelPreset['mode']): Array<{ label: string; url: string }> {
  return MODEL_PRESETS.filter((p) => p.mode === mode).map((p) => ({ label: `${p.label} (${presetSize(p)}, ${p.licence})`, url: presetUrl(p) }));
}

export const presetUrl = (p: ModelPreset, hub = 'https://huggingface.co'): string => `${hub}/${p.repo}/resolve/main/${p.file}`;

export function presetSize(p: ModelPreset): string {
  return p.mb >= 1000 ? `${(p.mb / 1000).toFixed(1)} GB` : `${p.mb} MB`;
}
