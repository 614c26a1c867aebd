/**
 * zoedepth/models/zoedepth/zoedepth_v1.py: `ZoeDepth` with a DepthAnythingCore. The metric-bins
 * head turns the core's bottleneck (l4_rn) into seed bin centres, refines them with attractors
 * at r4..r1, and predicts a log-binomial distribution over the bins from out_conv and the
 * relative depth; depth = sum over bins of probability x centre. NHWC throughout.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig } from '../config';
import { Conv2dWeights, conv2d, loadConv2d } from '../nn/conv2d';
import { resizeBilinearAlignCorners } from '../nn/interpolate';
import { Tap } from '../nn/tap';
import { StateDictReader } from '../weights/state_dict';
import { DptHooks } from '../dpt/dpt_head';
import type { ZoeDepthConfig } from './config';
import { attractorLayer, loadAttractor } from './layers/attractor';
import { ConditionalLogBinomialWeights, conditionalLogBinomial, loadConditionalLogBinomial } from './layers/dist_layers';
import { MlpWeights, PROJECTOR_MLP_DIM, SEED_MLP_DIM, loadMlp, projector, seedBinRegressor, seedBinRegressorUnnormed } from './layers/localbins_layers';

/** ZoeDepth's N_MIDAS_OUT: out_conv's width (the DPT's head_features_2). */
const N_MIDAS_OUT = 32;

/** Everything of `ZoeDepth` except `core`; names kept from the official module tree. */
export interface ZoeDepthHeadWeights {
  conv2: Conv2dWeights;
  seed_bin_regressor: MlpWeights;
  seed_projector: MlpWeights;
  projectors: MlpWeights[];
  attractors: MlpWeights[];
  conditional_log_binomial: ConditionalLogBinomialWeights;
}

/** Which seed regressor / attractor each bin_centers_type uses (ZoeDepth.__init__). */
export function binLayers(z: ZoeDepthConfig): { seedNormed: boolean; attractorNormed: boolean } {
  switch (z.binCentersType) {
    case 'normed': return { seedNormed: true, attractorNormed: true };
    case 'softplus': return { seedNormed: false, attractorNormed: false };
    case 'hybrid1': return { seedNormed: true, attractorNormed: false };
    case 'hybrid2': return { seedNormed: false, attractorNormed: true };
  }
}

/**
 * The head's tensors (keys at the checkpoint's top level). The core's output channels are the
 * DPT's `features` for the bottleneck and all four decoder levels (256 for ViT-L: the official
 * `set_output_channels`).
 */
export function loadZoeDepthHead(sd: StateDictReader, cfg: ModelConfig, z: ZoeDepthConfig): ZoeDepthHeadWeights {
  const F = cfg.features;
  const E = z.binEmbeddingDim;
  const { attractorNormed } = binLayers(z);
  return {
    conv2: loadConv2d(sd, 'conv2', { inC: F, outC: F, k: 1 }),
    seed_bin_regressor: loadMlp(sd, 'seed_bin_regressor', F, SEED_MLP_DIM, z.nBins),
    seed_projector: loadMlp(sd, 'seed_projector', F, PROJECTOR_MLP_DIM, E),
    projectors: [0, 1, 2, 3].map((i) => loadMlp(sd, `projectors.${i}`, F, PROJECTOR_MLP_DIM, E)),
    attractors: [0, 1, 2, 3].map((i) => loadAttractor(sd, `attractors.${i}`, E, z.nAttractors[i], attractorNormed)),
    conditional_log_binomial: loadConditionalLogBinomial(sd, 'conditional_log_binomial', N_MIDAS_OUT + 1, E, z.nBins),
  };
}

/**
 * ZoeDepth.forward after the core: relative depth [B, H, W] and the core's hooks -> metric depth
 * [B, H, W, 1] at out_conv's size (the network input size), in metres.
 */
export function zoeDepthHead(relDepth: tf.Tensor3D, hooks: DptHooks, w: ZoeDepthHeadWeights, z: ZoeDepthConfig, tap?: Tap): tf.Tensor4D {
  return tf.tidy(() => {
    const { seedNormed, attractorNormed } = binLayers(z);
    const xD0 = conv2d(hooks.l4_rn, w.conv2);
    tap?.('conv2', xD0);
    const [, seedCenters] = seedNormed
      ? seedBinRegressor(xD0, w.seed_bin_regressor, z.minDepth, z.maxDepth, 'seed_bin_regressor', tap)
      : seedBinRegressorUnnormed(xD0, w.seed_bin_regressor, 'seed_bin_regressor', tap);
    let bPrev = attractorNormed ? tf.div(tf.sub(seedCenters, z.minDepth), z.maxDepth - z.minDepth) as tf.Tensor4D : seedCenters;
    let prevEmbedding = projector(xD0, w.seed_projector, 'seed_projector', tap);
    const blocks = [hooks.r4, hooks.r3, hooks.r2, hooks.r1];
    let bEmbedding = prevEmbedding;
    let bCenters = bPrev;
    for (let i = 0; i < 4; i++) {
      bEmbedding = projector(blocks[i], w.projectors[i], `projectors.${i}`, tap);
      [bPrev, bCenters] = attractorLayer(bEmbedding, bPrev, prevEmbedding, w.attractors[i], attractorNormed, z, `attractors.${i}`, tap);
      prevEmbedding = bEmbedding;
    }
    const last = hooks.out_conv;
    const [, h, wd] = last.shape;
    let rel: tf.Tensor3D = relDepth;
    if (z.inverseMidas) {
      // 1 / (d + 1e-6), then min-max over the whole batch (tensor-wide min and max, as the official code).
      const inv = tf.div(1, tf.add(relDepth, 1e-6));
      const lo = tf.min(inv);
      rel = tf.div(tf.sub(inv, lo), tf.sub(tf.max(inv), lo)) as tf.Tensor3D;
    }
    const relCond = resizeBilinearAlignCorners(tf.expandDims(rel, 3) as tf.Tensor4D, h, wd);
    const probs = conditionalLogBinomial(tf.concat([last, relCond], 3), resizeBilinearAlignCorners(bEmbedding, h, wd), w.conditional_log_binomial,
      z.minTemp, z.maxTemp, 'conditional_log_binomial', tap);
    const centers = resizeBilinearAlignCorners(bCenters, h, wd);
    const out = tf.sum(tf.mul(probs, centers), 3, true) as tf.Tensor4D;
    tap?.('metric_depth', out);
    return out;
  });
}

/** Every key and PyTorch shape of the head (ZoeDepth's own tensors, after the core's), in module order. */
export function zoeDepthHeadShapes(cfg: ModelConfig, z: ZoeDepthConfig): Array<[string, number[]]> {
  const F = cfg.features;
  const E = z.binEmbeddingDim;
  const out: Array<[string, number[]]> = [];
  const conv = (k: string, inC: number, outC: number) => { out.push([`${k}.weight`, [outC, inC, 1, 1]], [`${k}.bias`, [outC]]); };
  const mlp = (k: string, inF: number, hidden: number, outF: number) => { conv(`${k}._net.0`, inF, hidden); conv(`${k}._net.2`, hidden, outF); };
  const { attractorNormed } = binLayers(z);
  conv('conv2', F, F);
  mlp('seed_bin_regressor', F, SEED_MLP_DIM, z.nBins);
  mlp('seed_projector', F, PROJECTOR_MLP_DIM, E);
  for (let i = 0; i < 4; i++) mlp(`projectors.${i}`, F, PROJECTOR_MLP_DIM, E);
  for (let i = 0; i < 4; i++) mlp(`attractors.${i}`, E, PROJECTOR_MLP_DIM, attractorNormed ? 2 * z.nAttractors[i] : z.nAttractors[i]);
  out.push(['conditional_log_binomial.log_binomial_transform.k_idx', [1, z.nBins, 1, 1]], ['conditional_log_binomial.log_binomial_transform.K_minus_1', [1, 1, 1, 1]]);
  const inF = N_MIDAS_OUT + 1 + E;
  conv('conditional_log_binomial.mlp.0', inF, Math.floor(inF / 2));
  conv('conditional_log_binomial.mlp.2', Math.floor(inF / 2), 4);
  return out;
}
