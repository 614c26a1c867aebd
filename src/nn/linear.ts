import * as tf from '@tensorflow/tfjs-core';
import { StateDictReader } from '../weights/state_dict';
import { param, permutedParam } from './param';

/** nn.Linear with the weight stored [in, out] (PyTorch keeps [out, in]). */
export interface LinearWeights {
  w: tf.Tensor2D;
  b?: tf.Tensor1D;
}

export function loadLinear(sd: StateDictReader, key: string, inF: number, outF: number, bias = true): LinearWeights {
  const w = sd.take(`${key}.weight`, [outF, inF]);
  const lin: LinearWeights = { w: permutedParam<tf.Rank.R2>(w, [1, 0]) };
  if (bias) lin.b = param<tf.Rank.R1>(sd.take(`${key}.bias`, [outF]));
  return lin;
}

/** y = x W + b over the last axis of x ([..., in] -> [..., out]). */
export function linear(x: tf.Tensor, p: LinearWeights, activation?: 'relu'): tf.Tensor {
  const [inF, outF] = p.w.shape;
  const lead = x.shape.slice(0, -1);
  const y = tf.fused.matMul({ a: tf.reshape(x, [-1, inF]), b: p.w, bias: p.b, activation });
  return tf.reshape(y, [...lead, outF]);
}
