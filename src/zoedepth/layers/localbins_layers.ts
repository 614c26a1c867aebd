/**
 * zoedepth/models/layers/localbins_layers.py: the seed bin regressors and the projector MLP.
 * Maps NHWC; channels last, so "dim=1" of the official code is the last axis here.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Conv2dWeights, conv2d, loadConv2d } from '../../nn/conv2d';
import { Tap } from '../../nn/tap';
import { StateDictReader } from '../../weights/state_dict';
import { softplus } from './activations';

/** `_net`: Conv1x1 (index 0), activation, Conv1x1 (index 2), activation. */
export interface MlpWeights {
  _net: [Conv2dWeights, Conv2dWeights];
}

export function loadMlp(sd: StateDictReader, key: string, inF: number, mlpDim: number, outF: number): MlpWeights {
  return {
    _net: [
      loadConv2d(sd, `${key}._net.0`, { inC: inF, outC: mlpDim, k: 1 }),
      loadConv2d(sd, `${key}._net.2`, { inC: mlpDim, outC: outF, k: 1 }),
    ],
  };
}

/** Conv, ReLU, Conv: the hidden conv's output (before its in-place ReLU) is tapped as `_net.0`. */
export function mlpHidden(x: tf.Tensor4D, w: MlpWeights, key: string, tap?: Tap): tf.Tensor4D {
  const h = conv2d(x, w._net[0]);
  tap?.(`${key}._net.0`, h);
  return conv2d(tf.relu(h), w._net[1]);
}

/** SeedBinRegressor's hidden width (mlp_dim default, not configurable in ZoeDepth). */
export const SEED_MLP_DIM = 256;
/** Projector / attractor hidden width (mlp_dim default). */
export const PROJECTOR_MLP_DIM = 128;

/**
 * SeedBinRegressor (bounded bins): widths from ReLU + 1e-3, normalised, scaled to
 * (max - min), edges = cumsum with min_depth in front, centres = edge midpoints.
 * Returns [B_widths_normed, B_centers].
 */
export function seedBinRegressor(x: tf.Tensor4D, w: MlpWeights, minDepth: number, maxDepth: number, key: string, tap?: Tap): [tf.Tensor4D, tf.Tensor4D] {
  return tf.tidy(() => {
    const B = tf.add(tf.relu(mlpHidden(x, w, key, tap)), 1e-3);
    const normed = tf.div(B, tf.sum(B, -1, true)) as tf.Tensor4D;
    const widths = tf.mul(normed, maxDepth - minDepth);
    const padded = tf.pad(widths, [[0, 0], [0, 0], [0, 0], [1, 0]], minDepth);
    const edges = tf.cumsum(padded, 3);
    const n = edges.shape[3]!;
    const centers = tf.mul(tf.add(tf.slice(edges, [0, 0, 0, 0], [-1, -1, -1, n - 1]), tf.slice(edges, [0, 0, 0, 1], [-1, -1, -1, n - 1])), 0.5) as tf.Tensor4D;
    tap?.(`${key}.0`, normed);
    tap?.(`${key}.1`, centers);
    return [normed, centers] as [tf.Tensor4D, tf.Tensor4D];
  });
}

/** SeedBinRegressorUnnormed: softplus centres, returned twice (the official API). */
export function seedBinRegressorUnnormed(x: tf.Tensor4D, w: MlpWeights, key: string, tap?: Tap): [tf.Tensor4D, tf.Tensor4D] {
  const centers = tf.tidy(() => softplus(mlpHidden(x, w, key, tap))) as tf.Tensor4D;
  tap?.(`${key}.0`, centers);
  tap?.(`${key}.1`, centers);
  return [centers, centers];
}

/** Projector: Conv, ReLU, Conv (no final activation). */
export function projector(x: tf.Tensor4D, w: MlpWeights, key: string, tap?: Tap): tf.Tensor4D {
  const out = tf.tidy(() => mlpHidden(x, w, key, tap));
  tap?.(key, out);
  return out;
}
