/**
 * zoedepth/models/base_models/depth_anything.py: `DepthAnythingCore` wraps the V1 DPT
 * (`core.core`): PrepForMidas (bilinear align_corners resize to a multiple of 14, ImageNet
 * normalisation), the relative depth, and the head intermediates its forward hooks collect
 * (`out_conv`, `l4_rn`, `r4`..`r1`), taken from our DPT head in the same pass.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig } from '../config/depth';
import { getIntermediateLayers, DinoV2Weights } from '../dinov2/vision_transformer';
import { DptHeadWeights, DptHooks, dptHeadWithHooks } from '../dpt/dpt_head';
import { resizeBilinearAlignCornersTorch } from '../nn/interpolate';
import { Tap } from '../nn/tap';

const MULTIPLE_OF = 14;
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

/** numpy's np.round: half to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * `Resize.get_size` with resize_method "minimal" and ensure_multiple_of 14, in float64 as
 * Python: keep-aspect scales both sides by whichever scale is closer to 1; otherwise each side
 * goes to its target. Each side is then round(x / 14) * 14 (numpy rounding). Returns [h, w].
 */
export function prepSize(height: number, width: number, imgSize: readonly [number, number], keepAspectRatio: boolean): [number, number] {
  const [netH, netW] = imgSize;
  let scaleH = netH / height;
  let scaleW = netW / width;
  if (keepAspectRatio) {
    if (Math.abs(1 - scaleW) < Math.abs(1 - scaleH)) scaleH = scaleW;
    else scaleW = scaleH;
  }
  const h = roundHalfEven((scaleH * height) / MULTIPLE_OF) * MULTIPLE_OF;
  const w = roundHalfEven((scaleW * width) / MULTIPLE_OF) * MULTIPLE_OF;
  if (h < MULTIPLE_OF || w < MULTIPLE_OF) {
    throw new Error(`a ${width}x${height} input resizes to ${w}x${h} for img_size ${netH}x${netW}: too small for the 14-pixel patches`);
  }
  return [h, w];
}

/** PrepForMidas: [B, H, W, 3] RGB in [0, 1] -> resized and ImageNet-normalised network input. */
export function prepForMidas(x: tf.Tensor4D, imgSize: readonly [number, number], keepAspectRatio: boolean): tf.Tensor4D {
  const [h, w] = prepSize(x.shape[1], x.shape[2], imgSize, keepAspectRatio);
  return tf.tidy(() => tf.div(tf.sub(resizeBilinearAlignCornersTorch(x, h, w), tf.tensor1d(MEAN)), tf.tensor1d(STD)) as tf.Tensor4D);
}

export interface CoreOutput {
  /** DPT_DINOv2's output: relu(head resized to the input size), [B, H, W]. */
  relDepth: tf.Tensor3D;
  hooks: DptHooks;
}

/** `core.core` (DPT_DINOv2) on a prepared input, with the hooks. Tap keys are the DPT's own (`pretrained.*`, `depth_head.*`, `output`). */
export function depthAnythingCore(x: tf.Tensor4D, pretrained: DinoV2Weights, depthHead: DptHeadWeights, cfg: ModelConfig, tap?: Tap): CoreOutput {
  return tf.tidy(() => {
    const [B, H, W] = x.shape;
    const patchH = H / cfg.patchSize;
    const patchW = W / cfg.patchSize;
    const layers = getIntermediateLayers(x, pretrained, cfg, tap);
    const { depth, hooks } = dptHeadWithHooks(layers, patchH, patchW, depthHead, tap);
    // F.interpolate to (h, w) is the identity here (h, w are multiples of 14), then F.relu.
    const relDepth = tf.reshape(tf.relu(resizeBilinearAlignCornersTorch(depth, H, W)), [B, H, W]) as tf.Tensor3D;
    tap?.('output', relDepth);
    return { relDepth, hooks } as unknown as tf.TensorContainer;
  }) as unknown as CoreOutput;
}
