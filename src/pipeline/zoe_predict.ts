/**
 * One photo through a V1 metric (ZoeDepth) model, as the official code runs it:
 * - inference (default): `infer_pil`: RGB / 255, DepthModel.infer (reflect padding + flip
 *   averaging, the core keeping the aspect ratio as the `infer` config's force_keep_ar), metres at
 *   the image's size;
 * - evaluation: evaluate.py: flip averaging at img_size exactly (no padding), the prediction
 *   resized to the image's size with bilinear align_corners=True (compute_metrics' resize, the
 *   ground truth having the image's size).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig } from '../config/depth';
import type { DepthAnythingWeights } from '../depth/depth_anything';
import type { RgbImage } from './rgb';
import { DepthMap, resizeBilinearAlignCorners } from './postprocess';
import { evalInferZoe, inferZoe } from './zoe_infer';

export interface ZoePredictOptions {
  /** Reflect padding augmentation (inference only). Default true. */
  padInput?: boolean;
  /** Horizontal flip averaging. Default true. */
  flip?: boolean;
  /** evaluate.py's way instead of DepthModel.infer. Default false. */
  evaluation?: boolean;
}

/** torchvision ToTensor: [1, H, W, 3] float32 RGB / 255. */
export function imageToTensor(img: RgbImage): tf.Tensor4D {
  return tf.tidy(() => tf.div(tf.tensor4d(Float32Array.from(img.data), [1, img.height, img.width, 3]), 255) as tf.Tensor4D);
}

export async function predictZoe(w: DepthAnythingWeights, cfg: ModelConfig, img: RgbImage, opts: ZoePredictOptions = {}): Promise<DepthMap> {
  const depth = tf.tidy(() => {
    const x = imageToTensor(img);
    return opts.evaluation
      ? evalInferZoe(w, cfg, x, { flip: opts.flip, keepAspectRatio: false })
      : inferZoe(w, cfg, x, { padInput: opts.padInput, flip: opts.flip });
  });
  const [, h, wd] = depth.shape;
  let net: Float32Array;
  try {
    net = (await depth.data()) as Float32Array;
  } finally {
    depth.dispose();
  }
  const data = h === img.height && wd === img.width ? net : resizeBilinearAlignCorners(net, h, wd, img.height, img.width);
  return { data, width: img.width, height: img.height, metric: true };
}
