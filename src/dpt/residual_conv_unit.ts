import * as tf from '@tensorflow/tfjs-core';
import { Conv2dWeights, conv2d, loadConv2d } from '../nn/conv2d';
import { StateDictReader } from '../weights/state_dict';

/** ResidualConvUnit: x + conv2(relu(conv1(relu(x)))), BatchNorm (folded) after each conv when use_bn. */
export interface ResidualConvUnitWeights {
  conv1: Conv2dWeights;
  conv2: Conv2dWeights;
}

export function loadResidualConvUnit(sd: StateDictReader, key: string, features: number, useBn: boolean): ResidualConvUnitWeights {
  // The official unit keeps the conv bias even when a BatchNorm follows.
  const spec = { inC: features, outC: features, k: 3, pad: 1 };
  return {
    conv1: loadConv2d(sd, `${key}.conv1`, spec, useBn ? `${key}.bn1` : undefined),
    conv2: loadConv2d(sd, `${key}.conv2`, spec, useBn ? `${key}.bn2` : undefined),
  };
}

/** NHWC -> NHWC, same shape. */
export function residualConvUnit(x: tf.Tensor4D, w: ResidualConvUnitWeights): tf.Tensor4D {
  const h = conv2d(tf.relu(x), w.conv1, 'relu');
  return tf.add(conv2d(h, w.conv2), x);
}
