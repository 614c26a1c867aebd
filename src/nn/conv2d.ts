import * as tf from '@tensorflow/tfjs-core';
import { StateDictReader } from '../weights/state_dict';
import { weightProduct } from './linear';
import { param, permuted, permutedParam } from './param';

/** nn.Conv2d (groups 1) with the kernel stored HWIO for tfjs's NHWC convolutions. */
export interface Conv2dWeights {
  w: tf.Tensor4D;
  b?: tf.Tensor1D;
  stride: number;
  /** Symmetric zero padding, as PyTorch's `padding=p`. */
  pad: number;
}

export interface Conv2dSpec {
  inC: number;
  outC: number;
  k: number;
  stride?: number;
  pad?: number;
  bias?: boolean;
}

/** BatchNorm2d's default eps. */
const BN_EPS = 1e-5;

/**
 * Loads `key.weight` [O, I, k, k] (+ `key.bias`). With `bnKey`, an eval-mode BatchNorm2d that
 * follows the conv is folded into it: w' = w s, b' = (b - mean) s + beta with
 * s = gamma / sqrt(var + eps), computed in float64 (one conv instead of conv + 4 elementwise ops).
 */
export function loadConv2d(sd: StateDictReader, key: string, spec: Conv2dSpec, bnKey?: string): Conv2dWeights {
  const { inC, outC, k, stride = 1, pad = 0, bias = true } = spec;
  const wRaw = sd.take(`${key}.weight`, [outC, inC, k, k]);
  if (wRaw.tensor) {
    // Trainable weights (src/train): BatchNorm cannot be folded into a variable, and training
    // mode's batch statistics are another computation; no training recipe here uses BatchNorm.
    if (bnKey) throw new Error(`${key}: training a model with BatchNorm (use_bn) is not supported`);
    const b = bias ? param<tf.Rank.R1>(sd.take(`${key}.bias`, [outC])) : undefined;
    return { w: permutedParam<tf.Rank.R4>(wRaw, [2, 3, 1, 0]), b, stride, pad };
  }
  const w = wRaw.data;
  const b = bias ? sd.take(`${key}.bias`, [outC]).data : undefined;
  let kernel = w;
  let shift: Float32Array | undefined = b;
  if (bnKey) {
    const gamma = sd.take(`${bnKey}.weight`, [outC]).data;
    const beta = sd.take(`${bnKey}.bias`, [outC]).data;
    const mean = sd.take(`${bnKey}.running_mean`, [outC]).data;
    const variance = sd.take(`${bnKey}.running_var`, [outC]).data;
    sd.takeOptional(`${bnKey}.num_batches_tracked`, []);
    const per = inC * k * k;
    kernel = new Float32Array(w.length);
    shift = new Float32Array(outC);
    for (let o = 0; o < outC; o++) {
      const s = gamma[o] / Math.sqrt(variance[o] + BN_EPS);
      for (let i = 0; i < per; i++) kernel[o * per + i] = w[o * per + i] * s;
      shift[o] = ((b ? b[o] : 0) - mean[o]) * s + beta[o];
    }
  }
  return {
    w: permuted<tf.Rank.R4>(kernel, [outC, inC, k, k], [2, 3, 1, 0]),
    b: shift ? tf.tensor1d(shift) : undefined,
    stride,
    pad,
  };
}

/** NHWC convolution with optional fused bias and ReLU. */
export function conv2d(x: tf.Tensor4D, p: Conv2dWeights, activation?: 'relu'): tf.Tensor4D {
  return weightProduct(p.w, p.b, activation, `conv2d stride ${p.stride} pad ${p.pad}`, (act) => tf.fused.conv2d({ x, filter: p.w, strides: p.stride, pad: p.pad === 0 ? 'valid' : p.pad, bias: p.b, activation: act }));
}
