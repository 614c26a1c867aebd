import * as tf from '@tensorflow/tfjs-core';
import { silu } from '../nn/activations';
import { LinearWeights, linear, loadLinear } from '../nn/linear';
import { Tap } from '../nn/tap';
import { StateDictReader } from '../weights/state_dict';

/** dinov2 SwiGLUFFNFused (the giant model's FFN): w3(silu(x1) * x2) with [x1, x2] = w12(x). */
export interface SwiGluWeights {
  kind: 'swiglu';
  key: string;
  w12: LinearWeights;
  w3: LinearWeights;
}

/** The fused variant shrinks the 4C hidden width by 2/3 and rounds it up to a multiple of 8. */
export function swigluHidden(dim: number): number {
  return Math.floor((Math.floor((4 * dim * 2) / 3) + 7) / 8) * 8;
}

export function loadSwiGlu(sd: StateDictReader, key: string, dim: number): SwiGluWeights {
  const hidden = swigluHidden(dim);
  return { kind: 'swiglu', key, w12: loadLinear(sd, `${key}.w12`, dim, 2 * hidden), w3: loadLinear(sd, `${key}.w3`, hidden, dim) };
}

export function swiglu(x: tf.Tensor3D, w: SwiGluWeights, tap?: Tap): tf.Tensor3D {
  const x12 = linear(x, w.w12);
  tap?.(`${w.key}.w12`, x12);
  const [x1, x2] = tf.split(x12, 2, -1);
  return linear(tf.mul(silu(x1), x2), w.w3) as tf.Tensor3D;
}
