/**
 * zoedepth/models/depth_model.py (`DepthModel.infer`) and metric_depth/evaluate.py (`infer`):
 * the official ways to run a ZoeDepth model (`zoeDepth`, src/depth/zoedepth.ts) on an RGB image
 * in [0, 1], kept out of the model as dinov2 keeps its test-time augmentation out of its heads.
 * - `inferZoe`: reflect padding of int(sqrt(h/2) * 3) rows and int(sqrt(w/2) * 3) columns,
 *   horizontal-flip averaging, bicubic (align_corners=False) back to the padded size, crop: the
 *   image's own size. Each augmentation can be turned off.
 * - `evalInferZoe`: evaluate.py's flip averaging at the network size (the caller resizes to GT).
 * Images NHWC [B, H, W, 3]; depths [B, H, W, 1] in metres.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig } from '../config/depth';
import type { DepthAnythingWeights } from '../depth/depth_anything';
import { zoeDepth } from '../depth/zoedepth';
import { bicubicMatrixToSize } from '../nn/interpolate';
import type { RgbImage } from './rgb';

/** torchvision ToTensor: [1, H, W, 3] float32 RGB / 255. */
export function imageToTensor(img: RgbImage): tf.Tensor4D {
  return tf.tidy(() => tf.div(tf.tensor4d(Float32Array.from(img.data), [1, img.height, img.width, 3]), 255) as tf.Tensor4D);
}

/** Flip along the width (torch.flip(x, [3]) on NCHW). */
const flipW = (x: tf.Tensor4D): tf.Tensor4D => tf.reverse(x, 2);

/** F.interpolate(mode='bicubic', align_corners=False, size=(outH, outW)) on [B, H, W, C]. */
export function resizeBicubicToSize(x: tf.Tensor4D, outH: number, outW: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [B, H, W, C] = x.shape;
    const mh = tf.tensor2d(bicubicMatrixToSize(H, outH), [outH, H]);
    const mw = tf.tensor2d(bicubicMatrixToSize(W, outW), [outW, W]);
    // Rows: [outH, H] x [H, B*W*C]; columns: [outW, W] x [W, outH*B*C].
    const hwc = tf.reshape(tf.transpose(x, [1, 0, 2, 3]), [H, B * W * C]);
    const rows = tf.reshape(tf.matMul(mh, hwc), [outH, B, W, C]);
    const wFirst = tf.reshape(tf.transpose(rows, [2, 0, 1, 3]), [W, outH * B * C]);
    const cols = tf.reshape(tf.matMul(mw, wFirst), [outW, outH, B, C]);
    return tf.transpose(cols, [2, 1, 0, 3]) as tf.Tensor4D;
  });
}

export interface ZoeInferOptions {
  /** Reflect padding augmentation (DepthModel's pad_input). Default true. */
  padInput?: boolean;
  /** Horizontal flip averaging (with_flip_aug). Default true. */
  flip?: boolean;
  /** The core's resize; default: the configuration's (true for the released models in inference mode). */
  keepAspectRatio?: boolean;
}

/** int(sqrt(size / 2) * 3): the official padding for one side (fh = fw = 3). */
export const padAmount = (size: number): number => Math.trunc(Math.sqrt(size / 2) * 3);

/** `_infer_with_pad_aug`: pad, predict, bicubic back to the padded size, crop. */
function inferWithPadAug(w: DepthAnythingWeights, cfg: ModelConfig, x: tf.Tensor4D, pad: boolean, keepAspectRatio?: boolean): tf.Tensor4D {
  return tf.tidy(() => {
    const [, H, W] = x.shape;
    const ph = pad ? padAmount(H) : 0;
    const pw = pad ? padAmount(W) : 0;
    if (ph >= H || pw >= W) {
      throw new Error(`a ${W}x${H} image is too small for the padding augmentation (${pw} columns, ${ph} rows of reflection); turn padding off`);
    }
    const padded = ph || pw ? tf.mirrorPad(x, [[0, 0], [ph, ph], [pw, pw], [0, 0]], 'reflect') : x;
    let out = zoeDepth(w, cfg, padded, keepAspectRatio);
    const [, PH, PW] = padded.shape;
    if (out.shape[1] !== PH || out.shape[2] !== PW) out = resizeBicubicToSize(out, PH, PW);
    return ph || pw ? tf.slice(out, [0, ph, pw, 0], [-1, H, W, -1]) : out;
  });
}

/** DepthModel.infer: [B, H, W, 3] RGB in [0, 1] -> metric depth [B, H, W, 1] at the image size. */
export function inferZoe(w: DepthAnythingWeights, cfg: ModelConfig, x: tf.Tensor4D, opts: ZoeInferOptions = {}): tf.Tensor4D {
  const pad = opts.padInput ?? true;
  return tf.tidy(() => {
    const out = inferWithPadAug(w, cfg, x, pad, opts.keepAspectRatio);
    if (!(opts.flip ?? true)) return out;
    const outFlip = inferWithPadAug(w, cfg, flipW(x), pad, opts.keepAspectRatio);
    return tf.div(tf.add(out, flipW(outFlip)), 2) as tf.Tensor4D;
  });
}

/**
 * evaluate.py's `infer`: 0.5 (model(x) + flip(model(flip(x)))) at the network size, the core
 * resizing as configured (evaluation mode: keepAspectRatio false, img_size exactly).
 */
export function evalInferZoe(w: DepthAnythingWeights, cfg: ModelConfig, x: tf.Tensor4D, opts: { flip?: boolean; keepAspectRatio?: boolean } = {}): tf.Tensor4D {
  return tf.tidy(() => {
    const pred1 = zoeDepth(w, cfg, x, opts.keepAspectRatio);
    if (!(opts.flip ?? true)) return pred1;
    const pred2 = flipW(zoeDepth(w, cfg, flipW(x), opts.keepAspectRatio));
    return tf.mul(tf.add(pred1, pred2), 0.5) as tf.Tensor4D;
  });
}
