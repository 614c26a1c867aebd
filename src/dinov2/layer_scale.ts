import * as tf from '@tensorflow/tfjs-core';
import { StateDictReader } from '../weights/state_dict';

/** dinov2 LayerScale: x * gamma (per channel). */
export interface LayerScaleWeights {
  gamma: tf.Tensor1D;
}

export function loadLayerScale(sd: StateDictReader, key: string, dim: number): LayerScaleWeights {
  return { gamma: tf.tensor1d(sd.take(`${key}.gamma`, [dim]).data) };
}

export function layerScale(x: tf.Tensor3D, w: LayerScaleWeights | undefined): tf.Tensor3D {
  return w ? tf.mul(x, w.gamma) : x;
}
