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

/**
 * What the backend wants to know of weights (src/backends/wasm_memory.ts frees wasm's unpacked copy
 * of a weight once XNNPACK has packed it): `unfused(w)`, whether to apply an activation after the
 * product rather than fuse it (the packed operator is keyed by its activation, so a weight used
 * with and without one, as tapped passes do, must always be packed the same way); `after`, told of
 * each product.
 */
export interface WeightProductHooks {
  unfused(weight: tf.Tensor): boolean;
  /** Throws where the weight cannot be used now (its data freed on another backend). */
  before(weight: tf.Tensor): void;
  after(weight: tf.Tensor, bias: tf.Tensor | undefined, key: string): void;
}
let hooks: WeightProductHooks | undefined;
export function setWeightProductHooks(h: WeightProductHooks | undefined): void {
  hooks = h;
}
/** `product(activation)`, with the activation applied after it where the hooks say so, then `after`. */
export function weightProduct<T extends tf.Tensor>(weight: tf.Tensor, bias: tf.Tensor | undefined, activation: 'relu' | undefined, key: string, product: (activation: 'relu' | undefined) => T): T {
  if (!hooks) return product(activation);
  hooks.before(weight);
  const unfused = activation !== undefined && hooks.unfused(weight);
  const y = product(unfused ? undefined : activation);
  hooks.after(weight, bias, `${key} ${unfused ? 'linear' : activation ?? 'linear'}`);
  if (!unfused) return y;
  const r = tf.relu(y) as T;
  y.dispose(); // at once, not at the end of the caller's scope
  return r;
}

/** y = x W + b over the last axis of x ([..., in] -> [..., out]). */
export function linear(x: tf.Tensor, p: LinearWeights, activation?: 'relu'): tf.Tensor {
  const [inF, outF] = p.w.shape;
  const lead = x.shape.slice(0, -1);
  const y = weightProduct(p.w, p.b, activation, 'matMul', (act) => tf.fused.matMul({ a: tf.reshape(x, [-1, inF]), b: p.w, bias: p.b, activation: act }));
  return tf.reshape(y, [...lead, outF]);
}
