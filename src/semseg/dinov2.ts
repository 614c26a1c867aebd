/**
 * The Depth Anything repo's `semseg/dinov2.py` DINOv2 backbone wrapper: the torchhub DINOv2 under
 * the attribute `dinov2`, `get_intermediate_layers(x, 4)` (the last four blocks, each through the
 * final norm, class token dropped), reshaped to [B, h, w, C] maps (NHWC here).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig } from '../config/depth';
import { DinoV2Weights, getIntermediateLayers, loadDinoV2 } from '../dinov2/vision_transformer';
import { Tap } from '../nn/tap';
import { StateDictReader } from '../weights/state_dict';

export const BACKBONE_KEY = 'backbone.dinov2';

export function loadSegBackbone(sd: StateDictReader, cfg: ModelConfig): DinoV2Weights {
  // mask_token is for training-time masking only; the strict reader still wants it consumed.
  sd.takeOptional(`${BACKBONE_KEY}.mask_token`, [1, cfg.embedDim]);
  return loadDinoV2(sd, BACKBONE_KEY, cfg);
}

/** Our DINOv2 taps name its modules `pretrained.*` (the depth model's attribute). */
function renameTap(tap: Tap): Tap {
  return (key, t) => {
    if (key === 'pretrained.tokens') tap(`${BACKBONE_KEY}.prepare_tokens`, t);
    else if (key.startsWith('pretrained.')) tap(`${BACKBONE_KEY}.${key.slice('pretrained.'.length)}`, t);
    else if (!key.startsWith('features.')) tap(key, t);
  };
}

/** [B, H, W, 3] -> four [B, H/14, W/14, C] maps. */
export function segBackbone(x: tf.Tensor4D, w: DinoV2Weights, cfg: ModelConfig, tap?: Tap): tf.Tensor4D[] {
  const [B, H, W] = x.shape;
  const h = H / cfg.patchSize;
  const ww = W / cfg.patchSize;
  const layers = getIntermediateLayers(x, w, cfg, tap ? renameTap(tap) : undefined);
  return layers.map((l, i) => {
    const map = tf.reshape<tf.Rank.R4>(l.patch, [B, h, ww, cfg.embedDim]);
    tap?.(`backbone.${i}`, map);
    return map;
  });
}
