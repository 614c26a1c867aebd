/**
 * zoedepth/models/layers/dist_layers.py: the conditional log-binomial output distribution over
 * the bins. NHWC: the class axis ("dim=1") is the last axis here.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Conv2dWeights, conv2d, loadConv2d } from '../../nn/conv2d';
import { gelu } from '../../nn/activations';
import { Tap } from '../../nn/tap';
import { StateDictReader } from '../../weights/state_dict';
import { WeightsError } from '../../weights/state_dict';
import { softplus } from './activations';

export interface ConditionalLogBinomialWeights {
  /** mlp.0 (Conv1x1), GELU, mlp.2 (Conv1x1 to 2 + 2), Softplus. */
  mlp: [Conv2dWeights, Conv2dWeights];
  /** The `K_minus_1` buffer's value (n_classes - 1); `k_idx` is arange(n_classes), rebuilt here. */
  kMinus1: number;
  nClasses: number;
}

/** ConditionalLogBinomial's p_eps. */
const P_EPS = 1e-4;

export function loadConditionalLogBinomial(sd: StateDictReader, key: string, inF: number, conditionDim: number, nClasses: number): ConditionalLogBinomialWeights {
  const bottleneck = Math.floor((inF + conditionDim) / 2);
  const km1 = sd.take(`${key}.log_binomial_transform.K_minus_1`, [1, 1, 1, 1]).data[0];
  // A zero-filled stand-in (missing key, noted for finish()) is not a contradiction of its own.
  if (sd.has(`${key}.log_binomial_transform.K_minus_1`) && km1 !== nClasses - 1) {
    throw new WeightsError(`${sd.source}: ${key}.log_binomial_transform.K_minus_1 is ${km1}, expected n_bins - 1 = ${nClasses - 1}`);
  }
  return {
    mlp: [
      loadConv2d(sd, `${key}.mlp.0`, { inC: inF + conditionDim, outC: bottleneck, k: 1 }),
      loadConv2d(sd, `${key}.mlp.2`, { inC: bottleneck, outC: 4, k: 1 }),
    ],
    kMinus1: nClasses - 1,
    nClasses,
  };
}

/** log(nCk) by Stirling, in float32 as the official code: n log n - k log k - (n-k) log(n-k+eps). */
export function logBinom(n: tf.Tensor, k: tf.Tensor, eps = 1e-7): tf.Tensor {
  const ne = tf.add(n, eps);
  const ke = tf.add(k, eps);
  const nk = tf.sub(ne, ke);
  return tf.sub(tf.sub(tf.mul(ne, tf.log(ne)), tf.mul(ke, tf.log(ke))), tf.mul(nk, tf.log(tf.add(nk, eps))));
}

/** LogBinomial: softmax over k of (log C(K-1, k) + k log p + (K-1-k) log(1-p)) / t. p, t: [N, H, W, 1]. */
export function logBinomial(p: tf.Tensor4D, t: tf.Tensor4D, K: number, kMinus1: number, eps = 1e-4): tf.Tensor4D {
  return tf.tidy(() => {
    const k = tf.range(0, K, 1, 'float32');
    const oneMinus = tf.clipByValue(tf.sub(1, p), eps, 1);
    const x = tf.clipByValue(p, eps, 1);
    const y = tf.add(tf.add(logBinom(tf.scalar(kMinus1), k), tf.mul(k, tf.log(x))), tf.mul(tf.sub(K - 1, k), tf.log(oneMinus)));
    return tf.softmax(tf.div(y, t), -1) as tf.Tensor4D;
  });
}

/** ConditionalLogBinomial(x, cond): probabilities over the bins [N, H, W, n_classes]. */
export function conditionalLogBinomial(x: tf.Tensor4D, cond: tf.Tensor4D, w: ConditionalLogBinomialWeights, minTemp: number, maxTemp: number, key: string, tap?: Tap): tf.Tensor4D {
  const probs = tf.tidy(() => {
    const h = conv2d(tf.concat([x, cond], 3), w.mlp[0]);
    tap?.(`${key}.mlp.0`, h);
    const pt = softplus(conv2d(gelu(h) as tf.Tensor4D, w.mlp[1])) as tf.Tensor4D;
    tap?.(`${key}.mlp`, pt);
    const ch = (i: number) => tf.slice(pt, [0, 0, 0, i], [-1, -1, -1, 1]);
    const [p0, p1, t0, t1] = [0, 1, 2, 3].map((i) => tf.add(ch(i), P_EPS));
    const p = tf.div(p0, tf.add(p0, p1)) as tf.Tensor4D;
    const t = tf.add(tf.mul(tf.div(t0, tf.add(t0, t1)), maxTemp - minTemp), minTemp) as tf.Tensor4D;
    return logBinomial(p, t, w.nClasses, w.kMinus1);
  });
  tap?.(key, probs);
  return probs;
}
