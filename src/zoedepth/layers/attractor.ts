/**
 * zoedepth/models/layers/attractor.py: attractor points shift the previous level's bin centres.
 * NHWC maps; the official [N, n_attractors, n_bins, H, W] difference tensor is
 * [N, H, W, n_attractors, n_bins] here, reduced over the attractors (axis 3).
 */
import * as tf from '@tensorflow/tfjs-core';
import { resizeBilinearAlignCorners } from '../../nn/interpolate';
import { Tap } from '../../nn/tap';
import { StateDictReader } from '../../weights/state_dict';
import type { ZoeDepthConfig } from '../../config/zoedepth';
import { softplus } from './activations';
import { MlpWeights, PROJECTOR_MLP_DIM, loadMlp, mlpHidden } from './localbins_layers';

/** dx^gamma as torch computes it (pow with an integer exponent; 2 is x * x). */
const powInt = (dx: tf.Tensor, gamma: number): tf.Tensor => (gamma === 2 ? tf.square(dx) : gamma === 1 ? dx : tf.pow(dx, tf.scalar(gamma)));

/**
 * The official layers call `dist(dx)` without passing their alpha and gamma, so the functions'
 * defaults apply whatever the configuration says (attractor_alpha 1000 in config_zoedepth.json
 * has no effect): alpha 300, gamma 2. Kept as released.
 */
export const DIST_ALPHA = 300;
export const DIST_GAMMA = 2;

/** Exponential attractor: dc = exp(-alpha |dx|^gamma) dx. */
export function expAttractor(dx: tf.Tensor, alpha = DIST_ALPHA, gamma = DIST_GAMMA): tf.Tensor {
  return tf.mul(tf.exp(tf.mul(powInt(tf.abs(dx), gamma), -alpha)), dx);
}

/** Inverse attractor (the paper's default): dc = dx / (1 + alpha dx^gamma). */
export function invAttractor(dx: tf.Tensor, alpha = DIST_ALPHA, gamma = DIST_GAMMA): tf.Tensor {
  return tf.div(dx, tf.add(tf.mul(powInt(dx, gamma), alpha), 1));
}

export type AttractorSettings = Pick<ZoeDepthConfig, 'attractorKind' | 'attractorType' | 'minDepth' | 'maxDepth'>;

/** `AttractorLayer` (normed: 2 x n_attractors outputs) or `AttractorLayerUnnormed` (n_attractors). */
export function loadAttractor(sd: StateDictReader, key: string, inF: number, nAttractors: number, normed: boolean): MlpWeights {
  return loadMlp(sd, key, inF, PROJECTOR_MLP_DIM, normed ? 2 * nAttractors : nAttractors);
}

/** x (+ prev embedding resized to x) -> attractor points [N, H, W, nA] (before the shift). */
function attractorPoints(x: tf.Tensor4D, prevEmbedding: tf.Tensor4D | undefined, w: MlpWeights, normed: boolean, key: string, tap?: Tap): tf.Tensor4D {
  const [, h, wd] = x.shape;
  const input = prevEmbedding ? tf.add(x, resizeBilinearAlignCorners(prevEmbedding, h, wd)) as tf.Tensor4D : x;
  const raw = mlpHidden(input, w, key, tap);
  if (!normed) return softplus(raw) as tf.Tensor4D;
  // A.view(n, nA, 2, h, w); the official A_normed is then overwritten by A[:, :, 0]: the first
  // of each pair, not normalised (kept as released).
  const A = tf.add(tf.relu(raw), 1e-3);
  const nA = A.shape[3]! / 2;
  return tf.reshape(tf.slice(tf.reshape(A, [A.shape[0], h, wd, nA, 2]), [0, 0, 0, 0, 0], [-1, -1, -1, -1, 1]), [A.shape[0], h, wd, nA]) as tf.Tensor4D;
}

/** delta_c = mean or sum over attractors of dist(A_i - c_j); returns b_centers + delta_c (b_prev resized to A). */
export function shiftCenters(A: tf.Tensor4D, bPrev: tf.Tensor4D, s: AttractorSettings): tf.Tensor4D {
  const [, h, wd] = A.shape;
  const b = resizeBilinearAlignCorners(bPrev, h, wd);
  const dx = tf.sub(tf.expandDims(A, 4), tf.expandDims(b, 3)); // [N, H, W, nA, nBins]
  const dist = s.attractorType === 'exp' ? expAttractor(dx) : invAttractor(dx); // defaults: see DIST_ALPHA
  const summed = tf.sum(dist, 3);
  const delta = s.attractorKind === 'mean' ? tf.div(summed, A.shape[3]) : summed;
  return tf.add(b, delta) as tf.Tensor4D;
}

/** AttractorLayer's B_centers: (max - min) b + min, sorted along the bins, clipped to [min, max]. */
export function boundedCenters(b: tf.Tensor4D, s: Pick<ZoeDepthConfig, 'minDepth' | 'maxDepth'>): tf.Tensor4D {
  return tf.tidy(() => {
    const scaled = tf.add(tf.mul(b, s.maxDepth - s.minDepth), s.minDepth) as tf.Tensor4D;
    // torch.sort ascending along the bins: topk gives them descending.
    const sorted = tf.reverse(tf.topk(scaled, scaled.shape[3], true).values, -1);
    return tf.clipByValue(sorted, s.minDepth, s.maxDepth) as tf.Tensor4D;
  });
}

/**
 * One attractor level. Returns [b_new_centers, B_centers]: normed, B = (max - min) b + min sorted
 * along the bins and clipped to [min, max]; unnormed, B = b.
 */
export function attractorLayer(x: tf.Tensor4D, bPrev: tf.Tensor4D, prevEmbedding: tf.Tensor4D | undefined, w: MlpWeights, normed: boolean,
  s: AttractorSettings, key: string, tap?: Tap): [tf.Tensor4D, tf.Tensor4D] {
  return tf.tidy(() => {
    const A = attractorPoints(x, prevEmbedding, w, normed, key, tap);
    const bNew = shiftCenters(A, bPrev, s);
    const B = normed ? boundedCenters(bNew, s) : bNew;
    tap?.(`${key}.0`, bNew);
    tap?.(`${key}.1`, B);
    return [bNew, B] as [tf.Tensor4D, tf.Tensor4D];
  });
}
