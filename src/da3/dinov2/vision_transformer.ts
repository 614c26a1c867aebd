/**
 * Depth Anything 3's DinoVisionTransformer (model/dinov2/vision_transformer.py) on the shared
 * DINOv2 blocks (src/dinov2): views as a batch, 2D RoPE and QK norm from `rope_start` /
 * `qknorm_start`, alternating attention (blocks >= alt_start with an odd index attend over all
 * views' tokens at once), the camera token in the class slot at alt_start, and intermediate
 * outputs [local, norm(global)] (`cat_token`). `model.backbone.pretrained.*`.
 *
 * One scene (B = 1) of S views: tokens are [S, N, C] (N = 1 + h*w); a global block sees them as
 * [1, S*N, C]. Taps are in PyTorch layouts under the official module paths.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Da3NetConfig, PATCH_SIZE, THRESH_FOR_REF_SELECTION, da3EncoderModelConfig } from '../../config/da3';
import { block, loadBlock } from '../../dinov2/block';
import { loadPatchEmbed, patchEmbed } from '../../dinov2/patch_embed';
import { RopeTables, ropeTables } from '../../dinov2/rope';
import { DinoV2Weights, interpolatePosEncoding } from '../../dinov2/vision_transformer';
import { layerNorm, loadLayerNorm } from '../../nn/layer_norm';
import { Tap } from '../../nn/tap';
import { StateDictReader } from '../../weights/state_dict';
import { RefViewStrategy, reorderIndices, restoreIndices, selectReferenceView } from '../reference_view_selector';

const KEY = 'model.backbone.pretrained';
/** The final norm is nn.LayerNorm(embed_dim): eps 1e-5 (the blocks' norms are 1e-6). */
const NORM_EPS = 1e-5;

export interface Da3DinoWeights extends DinoV2Weights {
  /** [1, 2, C]: [0] for the reference view, [1] for the others (alt_start != -1 only). */
  cameraToken?: tf.Tensor3D;
}

export function loadDa3Dino(sd: StateDictReader, n: Da3NetConfig): Da3DinoWeights {
  const cfg = da3EncoderModelConfig(n);
  const C = n.embedDim;
  const M = cfg.posGrid;
  return {
    clsToken: tf.tensor3d(sd.take(`${KEY}.cls_token`, [1, 1, C]).data, [1, 1, C]),
    posEmbed: tf.tensor3d(sd.take(`${KEY}.pos_embed`, [1, 1 + M * M, C]).data, [1, 1 + M * M, C]),
    patchEmbed: loadPatchEmbed(sd, `${KEY}.patch_embed`, cfg),
    blocks: Array.from({ length: n.depth }, (_, i) => loadBlock(sd, `${KEY}.blocks.${i}`, cfg, {
      qkNorm: n.qknormStart !== -1 && i >= n.qknormStart,
      rope: n.ropeStart !== -1 && i >= n.ropeStart,
    })),
    norm: loadLayerNorm(sd, `${KEY}.norm`, C),
    ...(n.altStart !== -1 ? { cameraToken: tf.tensor3d(sd.take(`${KEY}.camera_token`, [1, 2, C]).data, [1, 2, C]) } : {}),
  };
}

/** Taps: `tap` takes PyTorch-layout tensors; `mapTap` NHWC maps (it transposes them). */
export interface Da3Taps {
  tap?: Tap;
  mapTap?: Tap;
}

/** One of the four intermediate layers, as the head and the camera decoder get them. */
export interface Da3Feature {
  /** [S, h*w, D] patch tokens (D = 2C with cat_token), the global half normalised. */
  tokens: tf.Tensor3D;
  /** [S, D] the class/camera slot of the same layer, not normalised. */
  camToken: tf.Tensor2D;
}

/** (y, x) per token of one view: patches (row + 1, col + 1) (`pos`) or all (1, 1) (`pos_nodiff`), the slot (0, 0). */
function positions(h: number, w: number, nodiff: boolean): Int32Array {
  const p = new Int32Array((1 + h * w) * 2);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const i = 1 + r * w + c;
      p[2 * i] = nodiff ? 1 : r + 1;
      p[2 * i + 1] = nodiff ? 1 : c + 1;
    }
  }
  return p;
}

const repeat = (p: Int32Array, times: number): Int32Array => {
  const out = new Int32Array(p.length * times);
  for (let s = 0; s < times; s++) out.set(p, s * p.length);
  return out;
};

/**
 * x [S, H, W, 3] (normalised NHWC) -> the four intermediate layers, in input view order.
 * `camToken` [S, C]: the CameraEnc output (known cameras), which also skips reference selection.
 */
export function da3Encoder(x: tf.Tensor4D, w: Da3DinoWeights, n: Da3NetConfig, strategy: RefViewStrategy, camToken?: tf.Tensor2D, taps: Da3Taps = {}): Da3Feature[] {
  const { tap, mapTap } = taps;
  const cfg = da3EncoderModelConfig(n);
  const [S, H, W] = x.shape;
  const h = H / PATCH_SIZE;
  const ww = W / PATCH_SIZE;
  const N = 1 + h * ww;
  const C = n.embedDim;
  const D = C / n.numHeads;

  // prepare_tokens_with_masks: patches, class token, position embedding.
  const rename: Tap | undefined = mapTap && ((k, t) => mapTap(k.replace(/^pretrained\./, `${KEY}.`), t));
  const patches = patchEmbed(x, w.patchEmbed, rename); // [S, h*w, C]
  const pos = interpolatePosEncoding(w, cfg, h, ww);
  tap?.(`${KEY}.interpolate_pos_encoding`, pos);
  let t = tf.add(tf.concat([tf.tile(w.clsToken, [S, 1, 1]), patches], 1), pos) as tf.Tensor3D; // [S, N, C]
  tap?.(`${KEY}.prepare_tokens_with_masks`, tf.reshape(t, [1, S, N, C]));

  // _prepare_rope: tables for local blocks (per view) and global blocks (all views' tokens).
  let localRope: RopeTables | undefined;
  let globalRope: RopeTables | undefined;
  if (n.ropeStart !== -1) {
    const pl = positions(h, ww, false);
    const pg = positions(h, ww, true);
    if (tap) {
      tap(`${KEY}._prepare_rope.0`, tf.tensor(Float32Array.from(repeat(pl, S)), [1, S, N, 2]));
      tap(`${KEY}._prepare_rope.1`, tf.tensor(Float32Array.from(repeat(pg, S)), [1, S, N, 2]));
    }
    localRope = ropeTables(pl, D);
    globalRope = ropeTables(repeat(pg, S), D);
  }

  const outputs: tf.Tensor3D[] = [];
  let local: tf.Tensor3D = t;
  let restore: tf.Tensor1D | undefined;
  // Block outputs are freed as soon as nothing needs them (the kept outputs, the last local one),
  // not at the end of the pass: a large model's 24-40 block outputs over many views add up.
  const kept = new Set<tf.Tensor>();
  const release = (old: tf.Tensor[]) => {
    for (const o of new Set(old)) if (o !== t && o !== local && !kept.has(o)) o.dispose();
  };
  const alt = n.altStart;
  for (let i = 0; i < n.depth; i++) {
    const rope = n.ropeStart !== -1 && i >= n.ropeStart;
    if (alt !== -1 && i === alt - 1 && S >= THRESH_FOR_REF_SELECTION && !camToken) {
      const cls = tf.reshape(tf.slice(t, [0, 0, 0], [S, 1, C]), [S, C]) as tf.Tensor2D;
      tap?.(`${KEY}.select_reference_view.args.cls`, tf.reshape(cls, [1, S, C]));
      const ref = selectReferenceView(cls, strategy);
      tap?.(`${KEY}.select_reference_view`, tf.cast(ref, 'float32'));
      const order = reorderIndices(ref, S);
      restore = restoreIndices(ref, S);
      const old = [t, local];
      t = tf.gather(t, order, 0);
      local = tf.gather(local, order, 0);
      release(old);
    }
    if (alt !== -1 && i === alt) {
      const token = camToken ?? (S === 1
        ? tf.reshape(tf.slice(w.cameraToken!, [0, 0, 0], [1, 1, C]), [1, C])
        : tf.concat([tf.reshape(tf.slice(w.cameraToken!, [0, 0, 0], [1, 1, C]), [1, C]), tf.tile(tf.reshape(tf.slice(w.cameraToken!, [0, 1, 0], [1, 1, C]), [1, C]), [S - 1, 1])], 0));
      const old = t;
      t = tf.concat([tf.reshape(token, [S, 1, C]), tf.slice(t, [0, 1, 0], [S, N - 1, C])], 1);
      release([old]);
      tap?.(`${KEY}.tokens_at_alt_start`, tf.reshape(t, [1, S, N, C]));
    }
    const input = t;
    const previousLocal = local;
    const blk = w.blocks[i];
    if (alt !== -1 && i >= alt && i % 2 === 1) {
      // A scope per block frees its attention maps at once.
      t = tf.tidy(() => tf.reshape(block(tf.reshape(input, [1, S * N, C]), blk, tap, rope ? globalRope : undefined), [S, N, C]));
    } else {
      t = tf.tidy(() => block(input, blk, tap, rope ? localRope : undefined));
      local = t;
    }
    if (n.outLayers.includes(i)) {
      let out = n.catToken ? tf.concat([local, t], -1) : t;
      if (restore) out = tf.gather(out, restore, 0);
      kept.add(out);
      outputs.push(out as tf.Tensor3D);
    }
    release([input, previousLocal]);
  }

  // get_intermediate_layers: camera tokens as they are; the final norm (on the global half with cat_token); patches only.
  return outputs.map((out, k) => {
    const dim = out.shape[2];
    const camTok = tf.reshape(tf.slice(out, [0, 0, 0], [S, 1, dim]), [S, dim]) as tf.Tensor2D;
    let normed: tf.Tensor3D;
    const suffix = k === 0 ? '' : `#${k}`;
    if (n.catToken) {
      const g = layerNorm(tf.slice(out, [0, 0, C], [S, N, C]), w.norm, NORM_EPS);
      tap?.(`${KEY}.norm${suffix}`, tf.reshape(g, [1, S, N, C]));
      normed = tf.concat([tf.slice(out, [0, 0, 0], [S, N, C]), g], -1) as tf.Tensor3D;
    } else {
      normed = layerNorm(out, w.norm, NORM_EPS) as tf.Tensor3D;
      tap?.(`${KEY}.norm${suffix}`, tf.reshape(normed, [1, S, N, C]));
    }
    const tokens = tf.slice(normed, [0, 1, 0], [S, N - 1, dim]);
    tap?.(`model.backbone.0.${k}.0`, tf.reshape(tokens, [1, S, N - 1, dim]));
    tap?.(`model.backbone.0.${k}.1`, tf.reshape(camTok, [1, S, dim]));
    return { tokens, camToken: camTok };
  });
}
