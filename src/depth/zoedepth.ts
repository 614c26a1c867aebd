/**
 * ZoeDepth.forward (zoedepth/models/zoedepth/zoedepth_v1.py) as the V1 metric models run it:
 * the core's PrepForMidas (zoedepth/models/base_models/depth_anything.py: bilinear align_corners
 * resize to a multiple of 14, ImageNet normalisation), `core.core` (DPT_DINOv2 with its hooks) and
 * the metric-bins head (src/zoedepth). The official test-time augmentations (padding, flip) are
 * the pipeline's: src/pipeline/zoe_infer.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig } from '../config/depth';
import { resizeBilinearAlignCornersTorch } from '../nn/interpolate';
import { Tap } from '../nn/tap';
import { zoeDepthHead } from '../zoedepth/zoedepth_v1';
import { DepthAnythingWeights, checkPassLimits, wasmGuard } from './depth_anything';
import { depthAnythingCore } from './dpt_dinov2';

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

function zoeParts(w: DepthAnythingWeights, cfg: ModelConfig) {
  if (!cfg.zoe || !w.zoe) throw new Error('not a V1 metric (ZoeDepth) model: its configuration has no "zoe" head settings');
  return { z: cfg.zoe, head: w.zoe };
}

/**
 * ZoeDepth.forward: [B, H, W, 3] RGB in [0, 1] -> metric depth [B, h, w, 1] at the core's
 * resize. `keepAspectRatio` defaults to the configuration's (the core as built). The tap sees
 * `core.prep`, the DPT under `core.core.*` (its output as `core.core` and `rel_depth`), and the
 * head's modules under their own names.
 */
export function zoeDepth(w: DepthAnythingWeights, cfg: ModelConfig, image: tf.Tensor4D, keepAspectRatio?: boolean, tap?: Tap): tf.Tensor4D {
  const { z, head } = zoeParts(w, cfg);
  const coreTap: Tap | undefined = tap && ((key, t) => {
    if (key === 'output') {
      tap('core.core', t);
      tap('rel_depth', t);
      return;
    }
    const k = key.startsWith('core.core.') ? key : `core.core.${key}`;
    tap(k, t);
    // output_conv2.3 (ReLU) and .4 (Identity): the relative head's output seen by two more hooks.
    if (k === 'core.core.depth_head.scratch.output_conv2') {
      tap('core.core.depth_head.scratch.output_conv2.3', t);
      tap('core.core.depth_head.scratch.output_conv2.4', t);
    }
  });
  return tf.tidy(() => {
    const x = prepForMidas(image, z.imgSize, keepAspectRatio ?? z.keepAspectRatio);
    tap?.('core.prep', x);
    checkPassLimits(w, cfg, x);
    return wasmGuard(`running a ${x.shape[1]}x${x.shape[2]} network input`, () => {
      const { relDepth, hooks } = depthAnythingCore(x, w.pretrained, w.depth_head, cfg, coreTap);
      return zoeDepthHead(relDepth, hooks, head, z, tap);
    });
  });
}
