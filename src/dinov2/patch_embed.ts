import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig } from '../config/depth';
import { Conv2dWeights, conv2d, loadConv2d } from '../nn/conv2d';
import { Tap } from '../nn/tap';
import { StateDictReader } from '../weights/state_dict';

/** dinov2 PatchEmbed: Conv p x p, stride p; tokens in row-major patch order. */
export interface PatchEmbedWeights {
  proj: Conv2dWeights;
}

export function loadPatchEmbed(sd: StateDictReader, key: string, cfg: ModelConfig): PatchEmbedWeights {
  const p = cfg.patchSize;
  return { proj: loadConv2d(sd, `${key}.proj`, { inC: 3, outC: cfg.embedDim, k: p, stride: p }) };
}

/** [B, H, W, 3] -> tokens [B, h*w, C]. */
export function patchEmbed(x: tf.Tensor4D, w: PatchEmbedWeights, tap?: Tap): tf.Tensor3D {
  const map = conv2d(x, w.proj); // [B, h, w, C]
  tap?.('pretrained.patch_embed.proj', map);
  const [B, h, ww, C] = map.shape;
  const tokens = tf.reshape<tf.Rank.R3>(map, [B, h * ww, C]);
  tap?.('pretrained.patch_embed', tokens);
  return tokens;
}
