/**
 * mmseg `Mask2FormerHead` (over mmdet's): pixel decoder, learned queries, a masked-attention
 * transformer decoder whose every layer attends to one pixel-decoder level under the previous
 * prediction's mask, class and mask predictions after each layer, and `predict`: softmax over
 * classes without the void class times the sigmoid masks, summed over the queries.
 */
import * as tf from '@tensorflow/tfjs-core';
import { LayerNormWeights, layerNorm, loadLayerNorm } from '../nn/layer_norm';
import { LinearWeights, linear, loadLinear } from '../nn/linear';
import { Tap } from '../nn/tap';
import { StateDictReader } from '../weights/state_dict';
import { SegConfig } from '../config/semseg';
import { PixelDecoderWeights, loadPixelDecoder, pixelDecoder } from './pixel_decoder/msdeformattn_pixel_decoder';
import { sinePositionalEncoding } from './positional_encoding';
import { DecoderLayerWeights, decoderLayer, loadDecoderLayer } from './transformer_decoder/mask2former_decoder_layer';

const KEY = 'decode_head';
const LN_EPS = 1e-5;

export interface Mask2FormerHeadWeights {
  pixelDecoder: PixelDecoderWeights;
  layers: DecoderLayerWeights[];
  postNorm: LayerNormWeights;
  queryEmbed: tf.Tensor2D;
  queryFeat: tf.Tensor2D;
  levelEmbed: tf.Tensor2D;
  clsEmbed: LinearWeights;
  maskEmbed: [LinearWeights, LinearWeights, LinearWeights];
}

export function loadMask2FormerHead(sd: StateDictReader, cfg: SegConfig): Mask2FormerHeadWeights {
  const h = cfg.head;
  const C = h.featChannels;
  const Q = h.numQueries;
  const emb = (key: string, n: number) => tf.tensor2d(sd.take(`${KEY}.${key}.weight`, [n, C]).data, [n, C]);
  return {
    pixelDecoder: loadPixelDecoder(sd, cfg),
    layers: Array.from({ length: h.decoder.layers }, (_, i) => loadDecoderLayer(sd, `${KEY}.transformer_decoder.layers.${i}`, C, h.decoder.heads, h.decoder.ffn)),
    postNorm: loadLayerNorm(sd, `${KEY}.transformer_decoder.post_norm`, C),
    queryEmbed: emb('query_embed', Q),
    queryFeat: emb('query_feat', Q),
    levelEmbed: emb('level_embed', h.numTransformerFeatLevel),
    clsEmbed: loadLinear(sd, `${KEY}.cls_embed`, C, h.numClasses + 1),
    maskEmbed: [loadLinear(sd, `${KEY}.mask_embed.0`, C, C), loadLinear(sd, `${KEY}.mask_embed.2`, C, C), loadLinear(sd, `${KEY}.mask_embed.4`, C, h.outChannels)],
  };
}

const nth = (key: string, i: number) => (i === 0 ? key : `${key}#${i}`);

/**
 * Attention-mask observer: the mask `_forward_head` returns (true = masked, before the
 * "fully masked row attends everywhere" fix), [B, Q, h*w], and the logits it thresholds.
 */
export type MaskTap = (call: number, mask: tf.Tensor3D, logits: tf.Tensor3D) => void;

interface HeadStep { cls: tf.Tensor3D; mask: tf.Tensor4D; attnMask: tf.Tensor3D }

/** `_forward_head`: post_norm, class logits, mask logits [B, h, w, Q], attention mask at `size`. */
function forwardHead(out: tf.Tensor3D, maskFeature: tf.Tensor4D, size: [number, number], w: Mask2FormerHeadWeights, call: number, tap?: Tap, maskTap?: MaskTap): HeadStep {
  const [B, Q, C] = out.shape;
  const [, mh, mw] = maskFeature.shape;
  const normed = layerNorm(out, w.postNorm, LN_EPS) as tf.Tensor3D;
  tap?.(nth(`${KEY}.transformer_decoder.post_norm`, call), normed);
  const cls = linear(normed, w.clsEmbed) as tf.Tensor3D;
  tap?.(nth(`${KEY}.cls_embed`, call), cls);
  const [m0, m1, m2] = w.maskEmbed;
  const embed = linear(linear(linear(normed, m0, 'relu'), m1, 'relu'), m2);
  tap?.(nth(`${KEY}.mask_embed`, call), embed);
  // einsum('bqc,bchw->bqhw') as [B, hw, C] x [B, C, Q]
  const mask = tf.reshape(tf.matMul(tf.reshape(maskFeature, [B, mh * mw, C]), embed, false, true), [B, mh, mw, Q]) as tf.Tensor4D;
  const small = tf.image.resizeBilinear(mask, size, false, true);
  const logits = tf.transpose(tf.reshape(small, [B, size[0] * size[1], Q]), [0, 2, 1]) as tf.Tensor3D;
  const attnMask = tf.less(tf.sigmoid(logits), 0.5) as tf.Tensor3D;
  maskTap?.(call, attnMask, logits);
  return { cls, mask, attnMask };
}

export interface HeadOutput {
  /** Class logits after the query init and after each decoder layer: [B, Q, K+1]. */
  clsPreds: tf.Tensor3D[];
  /** Mask logits at the mask-feature size, NHWC [B, h, w, Q]. */
  maskPreds: tf.Tensor4D[];
}

export function mask2formerForward(x: tf.Tensor4D[], w: Mask2FormerHeadWeights, cfg: SegConfig, tap?: Tap, maskTap?: MaskTap): HeadOutput {
  const h = cfg.head;
  const C = h.featChannels;
  const L = h.numTransformerFeatLevel;
  const B = x[0].shape[0];
  const { maskFeature, multiScale } = pixelDecoder(x, w.pixelDecoder, cfg, tap);
  const memories: tf.Tensor3D[] = [];
  const memoryPos: tf.Tensor3D[] = [];
  for (let i = 0; i < L; i++) {
    const [, mh, mw] = multiScale[i].shape;
    const levelEmbed = tf.reshape(tf.slice(w.levelEmbed, [i, 0], [1, C]), [1, 1, C]);
    memories.push(tf.add(tf.reshape(multiScale[i], [B, mh * mw, C]), levelEmbed) as tf.Tensor3D);
    const pos = tf.tile(tf.expandDims(sinePositionalEncoding(mh, mw, h.posFeats), 0), [B, 1, 1, 1]) as tf.Tensor4D;
    tap?.(nth(`${KEY}.decoder_positional_encoding`, i), pos);
    memoryPos.push(tf.reshape(pos, [B, mh * mw, C]));
  }
  const rep = (t: tf.Tensor2D) => tf.tile(tf.expandDims(t, 0), [B, 1, 1]) as tf.Tensor3D;
  let query = rep(w.queryFeat);
  const queryPos = rep(w.queryEmbed);
  const sizeOf = (i: number): [number, number] => [multiScale[i % L].shape[1], multiScale[i % L].shape[2]];
  let step = forwardHead(query, maskFeature, sizeOf(0), w, 0, tap, maskTap);
  const clsPreds = [step.cls];
  const maskPreds = [step.mask];
  for (let i = 0; i < w.layers.length; i++) {
    const level = i % L;
    // "if a mask is all True (all background), then set it all False"
    const full = tf.equal(tf.sum(tf.cast(step.attnMask, 'int32'), -1, true), step.attnMask.shape[2]);
    const mask = tf.logicalAnd(step.attnMask, tf.logicalNot(full)) as tf.Tensor3D;
    query = decoderLayer(query, memories[level], queryPos, memoryPos[level], mask, w.layers[i], tap);
    step = forwardHead(query, maskFeature, sizeOf(i + 1), w, i + 1, tap, maskTap);
    clsPreds.push(step.cls);
    maskPreds.push(step.mask);
  }
  clsPreds.forEach((c, i) => tap?.(`${KEY}.0.${i}`, c));
  maskPreds.forEach((m, i) => tap?.(`${KEY}.1.${i}`, m));
  return { clsPreds, maskPreds };
}

/**
 * `predict`: the last layer's masks upsampled (bilinear, align_corners=False) to `size` (the
 * padded or image shape), sigmoid, times softmax(class)[..., :-1], summed over the queries.
 * Returns NHWC [B, H, W, K].
 */
export function mask2formerPredict(x: tf.Tensor4D[], w: Mask2FormerHeadWeights, cfg: SegConfig, size: [number, number], tap?: Tap, maskTap?: MaskTap): tf.Tensor4D {
  const { clsPreds, maskPreds } = mask2formerForward(x, w, cfg, tap, maskTap);
  const seg = segLogitsFromPredictions(clsPreds[clsPreds.length - 1], maskPreds[maskPreds.length - 1], size);
  tap?.(`${KEY}.predict`, seg);
  return seg;
}

/**
 * predict()'s mixture: cls [B, Q, K+1], mask logits NHWC [B, h, w, Q] -> [B, H, W, K]. Above
 * `bandValues` upsampled values it works in bands of output rows (same result, bounded memory).
 */
export function segLogitsFromPredictions(cls: tf.Tensor3D, mask: tf.Tensor4D, size: [number, number], bandValues = PREDICT_BAND_VALUES): tf.Tensor4D {
  return tf.tidy(() => mixture(cls, mask, size, bandValues));
}

function mixture(cls: tf.Tensor3D, mask: tf.Tensor4D, size: [number, number], bandValues: number): tf.Tensor4D {
  const [B, Q, K1] = cls.shape;
  const K = K1 - 1;
  const score = tf.slice(tf.softmax(cls), [0, 0, 0], [B, Q, K]); // [B, Q, K]
  const [H, W] = size;
  const [, mh, mw] = mask.shape;
  let seg: tf.Tensor4D;
  if (B * H * W * Q <= bandValues) {
    const up = tf.sigmoid(tf.image.resizeBilinear(mask, size, false, true));
    seg = tf.reshape(tf.matMul(tf.reshape(up, [B, H * W, Q]), score), [B, H, W, K]) as tf.Tensor4D;
  } else {
    // At 896 x 896 with 200 queries the upsampled masks alone take 640 MB: upsample in bands of
    // output rows, as the separable bilinear matrices of F.interpolate (same taps and weights).
    const my = tf.tensor2d(bilinearMatrix(mh, H), [H, mh]);
    const mx = tf.tensor2d(bilinearMatrix(mw, W), [W, mw]);
    const rows = Math.max(1, Math.floor(bandValues / (B * W * Q)));
    const bands: tf.Tensor[] = [];
    for (let r0 = 0; r0 < H; r0 += rows) {
      const n = Math.min(rows, H - r0);
      bands.push(tf.tidy(() => {
        const out: tf.Tensor[] = [];
        for (let b = 0; b < B; b++) {
          const m = tf.reshape(tf.slice(mask, [b, 0, 0, 0], [1, mh, mw, Q]), [mh, mw * Q]);
          const tall = tf.reshape(tf.matMul(tf.slice(my, [r0, 0], [n, mh]), m), [n, mw, Q]); // rows
          const up = tf.sigmoid(tf.matMul(tf.tile(tf.expandDims(mx, 0), [n, 1, 1]), tall)); // [n, W, Q]
          out.push(tf.reshape(tf.matMul(tf.reshape(up, [n * W, Q]), tf.reshape(tf.slice(score, [b, 0, 0], [1, Q, K]), [Q, K])), [1, n, W, K]));
        }
        return tf.concat(out, 0);
      }));
    }
    seg = tf.concat(bands, 1) as tf.Tensor4D;
    tf.dispose([my, mx, ...bands]);
  }
  return seg;
}

/** Upsampled values per band in `predict` (about 64 MB of float32). */
export const PREDICT_BAND_VALUES = 1 << 24;

/**
 * [out, in] weights of F.interpolate(mode='bilinear', align_corners=False) along one axis, in
 * PyTorch's float32 arithmetic: src = max((i + 0.5) * in / out - 0.5, 0), taps floor(src) and the
 * next (clamped), weights 1 - l and l.
 */
export function bilinearMatrix(inSize: number, outSize: number): Float32Array {
  const f = Math.fround;
  const scale = f(inSize / outSize);
  const m = new Float32Array(outSize * inSize);
  for (let i = 0; i < outSize; i++) {
    const src = Math.max(f(f(scale * f(i + 0.5)) - 0.5), 0);
    const i0 = Math.floor(src);
    const i1 = Math.min(i0 + 1, inSize - 1);
    const l = f(src - i0);
    m[i * inSize + i0] += f(1 - l);
    m[i * inSize + i1] += l;
  }
  return m;
}
