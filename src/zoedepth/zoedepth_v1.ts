/**
 * zoedepth/models/zoedepth/zoedepth_v1.py: `ZoeDepth` with a DepthAnythingCore. The metric-bins
 * head turns the core's bottleneck (l4_rn) into seed bin centres, refines them with attractors
 * at r4..r1, and predicts a log-binomial distribution over the bins from out_conv and the
 * relative depth; depth = sum over bins of probability x centre. NHWC throughout.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig } from '../config/depth';
import { Conv2dWeights, conv2d, loadConv2d } from '../nn/conv2d';
import { resizeBilinearAlignCornersRows } from '../nn/interpolate';
import { Tap } from '../nn/tap';
import { StateDictReader } from '../weights/state_dict';
import { DptHooks } from '../dpt/dpt_head';
import type { ZoeDepthConfig } from '../config/zoedepth';
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
 * Pixels per band of the head's full-resolution stage. That stage (the conditional log-binomial
 * over [B, H, W, 33 + bin_embedding_dim] and the bin centres resized to [B, H, W, n_bins]) is
 * per pixel, so it runs a band of rows at a time: at the released 392x518 its tensors were
 * ~1 GB at once, past what wasm's 4 GB heap had left after ViT-L (measured: abort), and past
 * a 128 MiB GPU storage-buffer binding.
 */
export const HEAD_BAND_PIXELS = 1 << 15;

/**
 * ZoeDepth.forward after the core: relative depth [B, H, W] and the core's hooks -> metric depth
 * [B, H, W, 1] at out_conv's size (the network input size), in metres. `bandPixels` bounds the
 * full-resolution stage's band (whole rows; the result does not depend on it).
 */
export function zoeDepthHead(relDepth: tf.Tensor3D, hooks: DptHooks, w: ZoeDepthHeadWeights, z: ZoeDepthConfig, tap?: Tap, bandPixels = HEAD_BAND_PIXELS): tf.Tensor4D {
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
    const relCond = tf.expandDims(rel, 3) as tf.Tensor4D;
    const bandRows = Math.max(1, Math.floor(bandPixels / wd));
    const bandTap = tap && bandCollector();
    const bands: tf.Tensor4D[] = [];
    for (let r0 = 0; r0 < h; r0 += bandRows) {
      const r1 = Math.min(h, r0 + bandRows);
      // The official bilinear (align_corners) resizes to out_conv's size, this band's rows only.
      const resized = (t: tf.Tensor4D) => resizeBilinearAlignCornersRows(t, h, wd, r0, r1);
      bands.push(tf.tidy(() => {
        const x = tf.concat([tf.slice(last, [0, r0, 0, 0], [-1, r1 - r0, -1, -1]), resized(relCond)], 3) as tf.Tensor4D;
        const probs = conditionalLogBinomial(x, resized(bEmbedding), w.conditional_log_binomial, z.minTemp, z.maxTemp, 'conditional_log_binomial', bandTap?.tap);
        return tf.sum(tf.mul(probs, resized(bCenters)), 3, true) as tf.Tensor4D;
      }));
    }
    if (tap && bandTap) bandTap.flush(tap);
    const out = bands.length === 1 ? bands[0] : tf.concat(bands, 1) as tf.Tensor4D;
    tap?.('metric_depth', out);
    return out;
  });
}

/** Collects a banded stage's taps (kept), then hands each key's bands, joined along the rows, to the real tap. */
function bandCollector(): { tap: Tap; flush: (to: Tap) => void } {
  const parts = new Map<string, tf.Tensor[]>();
  return {
    tap: (key, t) => { parts.set(key, [...(parts.get(key) ?? []), tf.keep(t.clone())]); },
    flush: (to) => {
      for (const [key, ts] of parts) {
        to(key, ts.length === 1 ? ts[0] : tf.concat(ts, 1));
        tf.dispose(ts);
      }
    },
  };
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
