/**
 * `DPT_DINOv2` (the V1 depth model that ZoeDepth wraps as `core.core`) with what
 * zoedepth/models/base_models/depth_anything.py's forward hooks collect from its head
 * (`out_conv`, `l4_rn`, `r4`..`r1`), taken from our DPT head in the same pass.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig } from '../config/depth';
import { getIntermediateLayers, DinoV2Weights } from '../dinov2/vision_transformer';
import { DptHeadWeights, DptHooks, dptHeadWithHooks } from '../dpt/dpt_head';
import { resizeBilinearAlignCornersTorch } from '../nn/interpolate';
import { Tap } from '../nn/tap';

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
