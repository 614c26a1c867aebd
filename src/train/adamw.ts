/**
 * AdamW exactly as torch 1.13 `_single_tensor_adamw` (amsgrad off), per parameter with a gradient:
 *
 *   p = p * (1 - lr * wd)
 *   m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g g
 *   p = p - (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *
 * t counts this parameter's own steps. A parameter without a gradient (PyTorch's `.grad is None`)
 * is skipped: no decay, no state, no step. tf.train.adam differs (eps 1e-7 by default, one
 * learning rate, no decoupled decay), hence this.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdamWConfig, GroupConfig } from '../config/train';

export interface AdamWState {
  step: Map<string, number>;
  expAvg: Map<string, tf.Tensor>;
  expAvgSq: Map<string, tf.Tensor>;
}

export function newAdamWState(): AdamWState {
  return { step: new Map(), expAvg: new Map(), expAvgSq: new Map() };
}

/** Group index of a parameter: 0 = the encoder (lr), 1 = the rest (lr x headLrScale). */
export const groupOf = (name: string, g: GroupConfig): 0 | 1 => (name.includes(g.encoderMatch) ? 0 : 1);

/** Learning rates of the two groups for a base rate (as train.py: `lr * 10.0` in float64). */
export const groupLrs = (base: number, g: GroupConfig): [number, number] => [base, base * g.headLrScale];

/**
 * One optimiser step over the parameters that have a gradient (`grads`, keyed by official name).
 * Updates the variables and the state in place; frees nothing it does not own.
 */
export function adamwStep(vars: Map<string, tf.Variable>, grads: Map<string, tf.Tensor>, state: AdamWState, lrs: [number, number], cfg: AdamWConfig, groups: GroupConfig): void {
  const [b1, b2] = cfg.betas;
  for (const [name, g] of grads) {
    const p = vars.get(name);
    if (!p) throw new Error(`AdamW: a gradient for ${name}, which is not a parameter`);
    if (g.shape.join() !== p.shape.join()) throw new Error(`AdamW: gradient of ${name} is [${g.shape}], the parameter [${p.shape}]`);
    const lr = lrs[groupOf(name, groups)];
    const t = (state.step.get(name) ?? 0) + 1;
    state.step.set(name, t);
    const m0 = state.expAvg.get(name);
    const v0 = state.expAvgSq.get(name);
    const [m, v] = tf.tidy(() => {
      p.assign(tf.mul(p, 1 - lr * cfg.weightDecay));
      const m1 = tf.add(m0 ? tf.mul(m0, b1) : tf.zerosLike(g), tf.mul(g, 1 - b1));
      const v1 = tf.add(v0 ? tf.mul(v0, b2) : tf.zerosLike(g), tf.mul(tf.mul(g, 1 - b2), g));
      const stepSize = lr / (1 - b1 ** t);
      const denom = tf.add(tf.div(tf.sqrt(v1), Math.sqrt(1 - b2 ** t)), cfg.eps);
      p.assign(tf.add(p, tf.div(tf.mul(m1, -stepSize), denom))); // addcdiv_: p + (value m) / denom
      return [m1, v1];
    });
    m0?.dispose();
    v0?.dispose();
    state.expAvg.set(name, m);
    state.expAvgSq.set(name, v);
  }
}

export function disposeAdamW(state: AdamWState): void {
  for (const t of state.expAvg.values()) t.dispose();
  for (const t of state.expAvgSq.values()) t.dispose();
  state.expAvg.clear();
  state.expAvgSq.clear();
  state.step.clear();
}
