/**
 * Training recipes as data: the official metric fine-tuning (Depth-Anything-V2
 * metric_depth/train.py) and the V1 paper's relative self-training (arXiv:2401.10891, sections
 * 3-4; what the paper leaves open is chosen as in ../shared/fixtures/train/README.md).
 */

/** AdamW as torch.optim.AdamW (amsgrad off). */
export interface AdamWConfig {
  betas: [number, number];
  eps: number;
  weightDecay: number;
}

/**
 * Learning rate per step. `poly` (train.py): lr = base (1 - iters / total) ** power, set AFTER
 * step `iters` (0-based), so the first two steps run at base. `linear` (the paper): lr = base
 * (1 - k / total), set before step k (0-based).
 */
export type Schedule = { kind: 'poly'; power: number } | { kind: 'linear' };

/** Parameter groups: names containing `encoderMatch` (the DINOv2 encoder) at lr, the rest at lr x headLrScale. */
export interface GroupConfig {
  encoderMatch: string;
  headLrScale: number;
}

export interface MetricRecipe {
  kind: 'metric';
  lr: number;
  minDepth: number;
  maxDepth: number;
  /** SiLogLoss's lambda. */
  lambd: number;
  /** valid_mask = depth <= this (VKITTI2: 80 m), before min/max depth. */
  validMaxDepth: number;
  /** Probability of the batch's horizontal flip (one draw per step). */
  flipP: number;
  cropSize: number;
  adamw: AdamWConfig;
  groups: GroupConfig;
  schedule: Schedule;
}

export interface PerturbationRanges {
  jitterP: number;
  brightness: [number, number];
  contrast: [number, number];
  saturation: [number, number];
  hue: [number, number];
  blurP: number;
  sigma: [number, number];
  cutmixP: number;
  cutmixArea: [number, number];
  cutmixAspect: [number, number];
}

export interface RelativeRecipe {
  kind: 'relative';
  lr: number;
  /** Feature alignment's tolerance margin: tokens with cos > alpha are left out. */
  alpha: number;
  flipP: number;
  cropSize: number;
  perturbations: PerturbationRanges;
  adamw: AdamWConfig;
  groups: GroupConfig;
  schedule: Schedule;
}

const ADAMW: AdamWConfig = { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 };
const GROUPS: GroupConfig = { encoderMatch: 'pretrained', headLrScale: 10 };

/** train.py's defaults (lr 5e-6, SiLog 0.5, poly 0.9); VKITTI2's 80 m valid range; Hypersim-sized max depth 20. */
export const METRIC_RECIPE: MetricRecipe = {
  kind: 'metric', lr: 5e-6, minDepth: 0.001, maxDepth: 20, lambd: 0.5, validMaxDepth: 80, flipP: 0.5, cropSize: 518,
  adamw: ADAMW, groups: GROUPS, schedule: { kind: 'poly', power: 0.9 },
};

/** The paper's section 4.1, with the ST++ / UniMatch perturbation ranges. */
export const RELATIVE_RECIPE: RelativeRecipe = {
  kind: 'relative', lr: 5e-6, alpha: 0.85, flipP: 0.5, cropSize: 518,
  perturbations: {
    jitterP: 0.8, brightness: [0.5, 1.5], contrast: [0.5, 1.5], saturation: [0.5, 1.5], hue: [-0.25, 0.25],
    blurP: 0.5, sigma: [0.1, 2.0],
    cutmixP: 0.5, cutmixArea: [0.02, 0.4], cutmixAspect: [0.3, 1 / 0.3],
  },
  adamw: ADAMW, groups: GROUPS, schedule: { kind: 'linear' },
};
