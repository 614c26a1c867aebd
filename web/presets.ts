/**
 * The models the demo offers in one click: every official depth model the library loads (the
 * names and files of src/node/hub.ts OFFICIAL_MODELS, checked by test/browser/presets.test.ts),
 * with its download size and licence. Plain data: a new family (Depth Anything 3, Video Depth
 * Anything) adds rows with its `mode`, and the mode that runs them lists them.
 */
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

export const MODEL_PRESETS: readonly ModelPreset[] = [
  v2('vits'), v2('vitb'), v2('vitl'),
  v1('vits'), v1('vitb'), v1('vitl'),
  metric('indoor', 'vits'), metric('indoor', 'vitb'), metric('indoor', 'vitl'),
  metric('outdoor', 'vits'), metric('outdoor', 'vitb'), metric('outdoor', 'vitl'),
  v1Metric('indoor'), v1Metric('outdoor'),
];

export const presetUrl = (p: ModelPreset, hub = 'https://huggingface.co'): string => `${hub}/${p.repo}/resolve/main/${p.file}`;

export function presetSize(p: ModelPreset): string {
  return p.mb >= 1000 ? `${(p.mb / 1000).toFixed(1)} GB` : `${p.mb} MB`;
}
