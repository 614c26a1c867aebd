/**
 * Back from the network's size to the image's: the official
 * `F.interpolate(depth[:, None], (h, w), mode='bilinear', align_corners=True)`.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Depth at an image's own size, row-major `data[y * width + x]`. */
export interface DepthMap {
  data: Float32Array;
  width: number;
  height: number;
  /** True for metric models: depth in metres. False: relative depth (larger is nearer). */
  metric: boolean;
}

/**
 * Resizes network depth [1, h, w] to [height, width], bilinear with aligned corners (tfjs's
 * `alignCorners: true` samples output i at `i * (in - 1) / (out - 1)`, PyTorch's rule).
 * The caller owns the result.
 */
export function resizeDepth(depth: tf.Tensor3D, height: number, width: number): tf.Tensor2D {
  if (depth.shape[0] !== 1) throw new Error(`resizeDepth: one depth map [1, h, w] expected, got [${depth.shape.join(', ')}]`);
  return tf.tidy(() => {
    const resized = tf.image.resizeBilinear(tf.expandDims(depth, -1) as tf.Tensor4D, [height, width], true, false);
    return tf.reshape(resized, [height, width]) as tf.Tensor2D;
  });
}
