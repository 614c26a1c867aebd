/** mmcv `FFN` (num_fcs=2, ReLU, add_identity): x + Linear(ReLU(Linear(x))). Keys `layers.0.0`, `layers.1`. */
import * as tf from '@tensorflow/tfjs-core';
import { LinearWeights, linear, loadLinear } from '../../nn/linear';
import { StateDictReader } from '../../weights/state_dict';

export interface FfnWeights {
  fc1: LinearWeights;
  fc2: LinearWeights;
}

export function loadFfn(sd: StateDictReader, key: string, C: number, hidden: number): FfnWeights {
  return { fc1: loadLinear(sd, `${key}.layers.0.0`, C, hidden), fc2: loadLinear(sd, `${key}.layers.1`, hidden, C) };
}

export function ffn(x: tf.Tensor3D, w: FfnWeights): tf.Tensor3D {
  return tf.add(x, linear(linear(x, w.fc1, 'relu'), w.fc2)) as tf.Tensor3D;
}
