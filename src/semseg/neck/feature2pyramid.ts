/**
 * mmseg `Feature2Pyramid` with rescales [4, 2, 1, 0.5]: the four ViT maps become a pyramid at
 * strides 4, 8, 16, 32 (x4: ConvT-BN-GELU-ConvT; x2: ConvT; identity; 2x2 max-pool).
 */
import * as tf from '@tensorflow/tfjs-core';
import { gelu } from '../../nn/activations';
import { ConvTranspose2dWeights, convTranspose2d, loadConvTranspose2d } from '../../nn/conv_transpose2d';
import { Tap } from '../../nn/tap';
import { StateDictReader } from '../../weights/state_dict';

/** Eval-mode BatchNorm2d as PyTorch's CPU kernel applies it: x * alpha + beta, alpha = w / sqrt(var + eps) (as 1/sqrt then x w, in float32). */
export interface BatchNormWeights {
  alpha: tf.Tensor1D;
  beta: tf.Tensor1D;
}

export function loadBatchNorm(sd: StateDictReader, key: string, C: number, eps = 1e-5): BatchNormWeights {
  const f = Math.fround;
  const w = sd.take(`${key}.weight`, [C]).data;
  const b = sd.take(`${key}.bias`, [C]).data;
  const mean = sd.take(`${key}.running_mean`, [C]).data;
  const variance = sd.take(`${key}.running_var`, [C]).data;
  sd.takeOptional(`${key}.num_batches_tracked`, []);
  const alpha = new Float32Array(C);
  const beta = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    alpha[c] = f(f(1 / f(Math.sqrt(f(variance[c] + eps)))) * w[c]);
    beta[c] = f(b[c] - f(mean[c] * alpha[c]));
  }
  return { alpha: tf.tensor1d(alpha), beta: tf.tensor1d(beta) };
}

export interface Feature2PyramidWeights {
  upsample4x: [ConvTranspose2dWeights, BatchNormWeights, ConvTranspose2dWeights];
  upsample2x: ConvTranspose2dWeights;
}

export function loadFeature2Pyramid(sd: StateDictReader, key: string, C: number): Feature2PyramidWeights {
  return {
    upsample4x: [
      loadConvTranspose2d(sd, `${key}.upsample_4x.0`, C, C, 2),
      loadBatchNorm(sd, `${key}.upsample_4x.1`, C),
      loadConvTranspose2d(sd, `${key}.upsample_4x.3`, C, C, 2),
    ],
    upsample2x: loadConvTranspose2d(sd, `${key}.upsample_2x.0`, C, C, 2),
  };
}

export function feature2Pyramid(inputs: tf.Tensor4D[], w: Feature2PyramidWeights, tap?: Tap): tf.Tensor4D[] {
  const [ct0, bn, ct3] = w.upsample4x;
  const a0 = convTranspose2d(inputs[0], ct0);
  tap?.('neck.upsample_4x.0', a0);
  const a1 = tf.add(tf.mul(a0, bn.alpha), bn.beta) as tf.Tensor4D;
  tap?.('neck.upsample_4x.1', a1);
  const a2 = gelu(a1) as tf.Tensor4D;
  tap?.('neck.upsample_4x.2', a2);
  const out0 = convTranspose2d(a2, ct3);
  tap?.('neck.upsample_4x.3', out0);
  tap?.('neck.upsample_4x', out0);
  const out1 = convTranspose2d(inputs[1], w.upsample2x);
  tap?.('neck.upsample_2x.0', out1);
  tap?.('neck.upsample_2x', out1);
  const out2 = inputs[2];
  tap?.('neck.identity', out2);
  const out3 = tf.maxPool(inputs[3], 2, 2, 'valid');
  tap?.('neck.downsample_2x', out3);
  const outs = [out0, out1, out2, out3];
  outs.forEach((o, i) => tap?.(`neck.${i}`, o));
  return outs;
}
