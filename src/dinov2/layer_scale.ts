import * as tf from '@tensorflow/tfjs-core';
import { param } from '../nn/param';
import { StateDictReader } from '../weights/state_dict';

/** dinov2 LayerScale: x * gamma (per channel). */
export interface LayerScaleWeights {
  gamma: tf.Tensor1D;
}

export function loadLayerScale(sd: StateDictReader, key: string, dim: number): LayerScaleWeights {
  return { gamma: param<tf.Rank.R1>(sd.take(`${key}.gamma`, [dim])) };
}

export function layerScale(x: tf.Tensor3D, w: LayerScaleWeights | undefined): tf.Tensor3D {
  return w ? tf.mul(x, w.gamma) : x;
}
