import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig } from '../config/depth';
import { resizeBicubic } from '../nn/interpolate';
import { blockLayerNorm } from '../backends/choices';
import type { PackPart } from '../backends/wasm_pack';
import { LayerNormWeights, loadLayerNorm } from '../nn/layer_norm';
import { param } from '../nn/param';
import { Tap } from '../nn/tap';
import { StateDictReader } from '../weights/state_dict';
import { BlockWeights, block, loadBlock } from './block';
import { PatchEmbedWeights, loadPatchEmbed, patchEmbed } from './patch_embed';

/** dinov2 DinoVisionTransformer (no register tokens), as Depth Anything uses it: `pretrained.*`. */
export interface DinoV2Weights {
  clsToken: tf.Tensor3D; // [1, 1, C]
  posEmbed: tf.Tensor3D; // [1, 1 + M*M, C]
  patchEmbed: PatchEmbedWeights;
  blocks: BlockWeights[];
  norm: LayerNormWeights;
}

/** `pack`: packs each block's kernels as soon as it is bound (src/backends/wasm_pack.ts). */
export function loadDinoV2(sd: StateDictReader, key: string, cfg: ModelConfig, pack?: PackPart): DinoV2Weights {
  const C = cfg.embedDim;
  const M = cfg.posGrid;
  return {
    clsToken: param<tf.Rank.R3>(sd.take(`${key}.cls_token`, [1, 1, C])),
    posEmbed: param<tf.Rank.R3>(sd.take(`${key}.pos_embed`, [1, 1 + M * M, C])),
    patchEmbed: loadPatchEmbed(sd, `${key}.patch_embed`, cfg),
    blocks: Array.from({ length: cfg.depth }, (_, i) => {
      const b = loadBlock(sd, `${key}.blocks.${i}`, cfg);
      pack?.(b, () => block(tf.zeros([1, 2, C]) as tf.Tensor3D, b));
      return b;
    }),
    norm: loadLayerNorm(sd, `${key}.norm`, C),
  };
}

/**
 * The position embedding for an h x w patch grid: the M x M table resized bicubically with
 * PyTorch's scale_factor (h + offset) / M, which places samples slightly differently from a
 * resize to exactly h x w. A square grid of the table's own size uses the table as it is.
 */
export function interpolatePosEncoding(w: DinoV2Weights, cfg: ModelConfig, h: number, ww: number): tf.Tensor3D {
  const M = cfg.posGrid;
  if (h === M && ww === M) return w.posEmbed;
  const C = cfg.embedDim;
  const cls = tf.slice(w.posEmbed, [0, 0, 0], [1, 1, C]);
  const grid = tf.reshape<tf.Rank.R3>(tf.slice(w.posEmbed, [0, 1, 0], [1, M * M, C]), [M, M, C]);
  const off = cfg.interpolateOffset;
  const resized = resizeBicubic(grid, h, ww, (h + off) / M, (ww + off) / M);
  return tf.concat([cls, tf.reshape(resized, [1, h * ww, C])], 1);
}

/** Patch tokens with the class token prepended and the position embedding added. */
export function prepareTokens(x: tf.Tensor4D, w: DinoV2Weights, cfg: ModelConfig, tap?: Tap): tf.Tensor3D {
  const [B, H, W] = x.shape;
  const patches = patchEmbed(x, w.patchEmbed, tap);
  const pos = interpolatePosEncoding(w, cfg, H / cfg.patchSize, W / cfg.patchSize);
  tap?.('pretrained.pos_embed_interp', pos);
  const cls = tf.tile(w.clsToken, [B, 1, 1]);
  const tokens = tf.add(tf.concat([cls, patches], 1), pos) as tf.Tensor3D;
  tap?.('pretrained.tokens', tokens);
  return tokens;
}

/** One intermediate layer after the final norm, split into patch tokens and class token. */
export interface IntermediateLayer {
  patch: tf.Tensor3D; // [B, h*w, C]
  cls: tf.Tensor2D; // [B, C]
}

/**
 * dinov2 `get_intermediate_layers(x, layers, return_class_token=True)` with norm=True: runs the
 * blocks up to the last requested one and normalises each requested output.
 */
export function getIntermediateLayers(x: tf.Tensor4D, w: DinoV2Weights, cfg: ModelConfig, tap?: Tap): IntermediateLayer[] {
  const eps = cfg.layerNormEps;
  // The position embedding's resized copies go with this scope, not the pass's.
  let t = tf.tidy(() => prepareTokens(x, w, cfg, tap));
  const taken: tf.Tensor3D[] = [];
  const last = Math.max(...cfg.intermediateLayers);
  for (let i = 0; i <= last; i++) {
    const input = t;
    // A scope per block frees its attention maps at once instead of at the end of the pass.
    t = tf.tidy(() => block(input, w.blocks[i], tap));
    if (cfg.intermediateLayers.includes(i)) taken.push(t);
    // Each block's input is freed once read unless it is a requested layer (ViT-L at 518: 24
    // blocks' outputs held to the end of the pass were 0.2 GiB of wasm heap).
    if (!taken.includes(input)) input.dispose();
  }
  return taken.map((out, i) => {
    const normed = blockLayerNorm(out, w.norm, eps) as tf.Tensor3D;
    out.dispose();
    tap?.(i === 0 ? 'pretrained.norm' : `pretrained.norm#${i}`, normed);
    const [B, N, C] = normed.shape;
    const layer = {
      patch: tf.slice(normed, [0, 1, 0], [B, N - 1, C]),
      cls: tf.reshape(tf.slice(normed, [0, 0, 0], [B, 1, C]), [B, C]) as tf.Tensor2D,
    };
    normed.dispose();
    tap?.(`features.${i}.patch`, layer.patch);
    tap?.(`features.${i}.cls`, layer.cls);
    return layer;
  });
}
