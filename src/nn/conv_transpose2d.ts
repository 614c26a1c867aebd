import * as tf from '@tensorflow/tfjs-core';
import { StateDictReader } from '../weights/state_dict';

/**
 * nn.ConvTranspose2d whose stride equals its kernel (no overlap, no padding): every input pixel
 * writes its own k x k block, so it is one matrix product [Cin] -> [k, k, Cout] followed by a
 * depth-to-space. The kernel is stored [Cin, k*k*Cout] in depth-to-space (DCR) order.
 */
export interface ConvTranspose2dWeights {
  w: tf.Tensor2D;
  /** The bias repeated for each of the k*k output positions. */
  b: tf.Tensor1D;
  k: number;
}

export function loadConvTranspose2d(sd: StateDictReader, key: string, inC: number, outC: number, k: number): ConvTranspose2dWeights {
  const w = sd.take(`${key}.weight`, [inC, outC, k, k]); // PyTorch: [Cin, Cout, kh, kw]
  const b = sd.take(`${key}.bias`, [outC]).data;
  const tiled = new Float32Array(k * k * outC);
  for (let i = 0; i < k * k; i++) tiled.set(b, i * outC);
  return {
    w: tf.reshape(tf.transpose(tf.tensor4d(w.data, [inC, outC, k, k]), [0, 2, 3, 1]), [inC, k * k * outC]),
    b: tf.tensor1d(tiled),
    k,
  };
}

/** [B, h, w, Cin] -> [B, h*k, w*k, Cout]. */
export function convTranspose2d(x: tf.Tensor4D, p: ConvTranspose2dWeights): tf.Tensor4D {
  const [B, h, w, inC] = x.shape;
  const y = tf.fused.matMul({ a: tf.reshape(x, [B * h * w, inC]), b: p.w, bias: p.b });
  return tf.depthToSpace(tf.reshape(y, [B, h, w, p.w.shape[1]]), p.k, 'NHWC');
}
