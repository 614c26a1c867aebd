import * as tf from '@tensorflow/tfjs-core';
import { Conv2dWeights, conv2d, loadConv2d } from '../nn/conv2d';
import { Tap } from '../nn/tap';
import { StateDictReader } from '../weights/state_dict';

/** ResidualConvUnit: x + conv2(relu(conv1(relu(x)))), BatchNorm (folded) after each conv when use_bn. */
export interface ResidualConvUnitWeights {
  conv1: Conv2dWeights;
  conv2: Conv2dWeights;
  /** BatchNorm folded into the convs: their outputs are bn1 / bn2's. */
  bn: boolean;
  /**
   * With BatchNorm, per channel: scale = gamma / sqrt(var + eps), beta and mean, to show the
   * convolutions' own (pre-BatchNorm) outputs when tapped: conv = (bn - beta) / scale + mean.
   */
  bnStats?: [BnStats, BnStats];
}

export interface BnStats { scale: tf.Tensor1D; beta: tf.Tensor1D; mean: tf.Tensor1D }

/** BatchNorm2d's default eps (as folded in nn/conv2d.ts). */
const BN_EPS = 1e-5;

function loadBnStats(sd: StateDictReader, key: string, n: number): BnStats {
  const gamma = sd.take(`${key}.weight`, [n]).data;
  const variance = sd.take(`${key}.running_var`, [n]).data;
  const scale = Float32Array.from(gamma, (g, i) => g / Math.sqrt(variance[i] + BN_EPS));
  return { scale: tf.tensor1d(scale), beta: tf.tensor1d(sd.take(`${key}.bias`, [n]).data), mean: tf.tensor1d(sd.take(`${key}.running_mean`, [n]).data) };
}

/**
 * Tap names of one unit's internals: its own key, and the fusion block's shared ReLU (the
 * official block hands one `activation` module to both units, so PyTorch names it
 * `resConfUnit1.activation` and counts its calls: `#1`, `#2`, ...).
 */
export interface ResidualConvUnitTapNames {
  key: string;
  activation: () => string;
}

export function loadResidualConvUnit(sd: StateDictReader, key: string, features: number, useBn: boolean): ResidualConvUnitWeights {
  // The official unit keeps the conv bias even when a BatchNorm follows.
  const spec = { inC: features, outC: features, k: 3, pad: 1 };
  return {
    conv1: loadConv2d(sd, `${key}.conv1`, spec, useBn ? `${key}.bn1` : undefined),
    conv2: loadConv2d(sd, `${key}.conv2`, spec, useBn ? `${key}.bn2` : undefined),
    bn: useBn,
    ...(useBn ? { bnStats: [loadBnStats(sd, `${key}.bn1`, features), loadBnStats(sd, `${key}.bn2`, features)] as [BnStats, BnStats] } : {}),
  };
}

/** NHWC -> NHWC, same shape. */
export function residualConvUnit(x: tf.Tensor4D, w: ResidualConvUnitWeights, tap?: Tap, names?: ResidualConvUnitTapNames): tf.Tensor4D {
  if (!tap || !names) {
    // Each intermediate freed once read (the head's maps reach 136 MiB each at ViT-L 518).
    const a0 = tf.relu(x);
    const a1 = conv2d(a0, w.conv1, 'relu');
    a0.dispose();
    const c2 = conv2d(a1, w.conv2);
    a1.dispose();
    const out = tf.add(c2, x) as tf.Tensor4D;
    c2.dispose();
    return out;
  }
  // The same arithmetic unfused, to show each module's output (folded BatchNorm: bn1/bn2's, not the convs').
  const a0 = tf.relu(x);
  tap(names.activation(), a0);
  const preBn = (t: tf.Tensor4D, b: BnStats) => tf.add(tf.div(tf.sub(t, b.beta), b.scale), b.mean);
  const c1 = conv2d(a0, w.conv1);
  if (w.bnStats) tap(`${names.key}.conv1`, preBn(c1, w.bnStats[0]));
  tap(`${names.key}.${w.bn ? 'bn1' : 'conv1'}`, c1);
  const a1 = tf.relu(c1);
  tap(names.activation(), a1);
  const c2 = conv2d(a1, w.conv2);
  if (w.bnStats) tap(`${names.key}.conv2`, preBn(c2, w.bnStats[1]));
  tap(`${names.key}.${w.bn ? 'bn2' : 'conv2'}`, c2);
  const out = tf.add(c2, x);
  tap(`${names.key}.skip_add.activation_post_process`, out);
  return out as tf.Tensor4D;
}
