/**
 * mmdet `MSDeformAttnPixelDecoder`: the three coarsest pyramid levels (stride 32, 16, 8) are
 * projected (1x1 conv + GroupNorm), given sine positional + level encodings and refined by a
 * deformable-attention encoder; the finest level (stride 4) gets an FPN step (lateral 1x1 conv +
 * GN, add the upsampled encoder output, 3x3 conv + GN + ReLU) and a 1x1 conv to mask features.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Conv2dWeights, conv2d, loadConv2d } from '../../nn/conv2d';
import { GroupNormWeights, groupNorm, loadGroupNorm } from '../../nn/group_norm';
import { LayerNormWeights, layerNorm, loadLayerNorm } from '../../nn/layer_norm';
import { Tap } from '../../nn/tap';
import { StateDictReader } from '../../weights/state_dict';
import { SegConfig } from '../../config/semseg';
import { MsDeformAttnWeights, loadMsDeformAttn, msDeformAttn } from '../ops/multi_scale_deform_attn';
import { sinePositionalEncoding } from '../positional_encoding';
import { FfnWeights, ffn, loadFfn } from '../transformer_decoder/ffn';

const LN_EPS = 1e-5;

interface ConvGn { conv: Conv2dWeights; gn: GroupNormWeights }

export interface EncoderLayerWeights {
  key: string;
  selfAttn: MsDeformAttnWeights;
  norms: [LayerNormWeights, LayerNormWeights];
  ffn: FfnWeights;
}

export interface PixelDecoderWeights {
  inputConvs: ConvGn[];
  levelEncoding: tf.Tensor2D; // [levels, C]
  layers: EncoderLayerWeights[];
  lateralConvs: ConvGn[];
  outputConvs: ConvGn[];
  maskFeature: Conv2dWeights;
}

const KEY = 'decode_head.pixel_decoder';

export function loadPixelDecoder(sd: StateDictReader, cfg: SegConfig): PixelDecoderWeights {
  const h = cfg.head;
  const pd = h.pixelDecoder;
  const C = h.featChannels;
  const nIn = h.inChannels.length;
  const convGn = (key: string, inC: number, k: number, bias: boolean): ConvGn => ({
    conv: loadConv2d(sd, `${key}.conv`, { inC, outC: C, k, pad: (k - 1) / 2, bias }),
    gn: loadGroupNorm(sd, `${key}.gn`, C, pd.gnGroups),
  });
  const inputConvs: ConvGn[] = [];
  for (let i = 0; i < pd.numLevels; i++) inputConvs.push(convGn(`${KEY}.input_convs.${i}`, h.inChannels[nIn - 1 - i], 1, true));
  const lateralConvs: ConvGn[] = [];
  const outputConvs: ConvGn[] = [];
  for (let j = 0, i = nIn - pd.numLevels - 1; i >= 0; i--, j++) {
    lateralConvs.push(convGn(`${KEY}.lateral_convs.${j}`, h.inChannels[i], 1, false));
    outputConvs.push(convGn(`${KEY}.output_convs.${j}`, C, 3, false));
  }
  const layers = Array.from({ length: pd.encoderLayers }, (_, i): EncoderLayerWeights => {
    const key = `${KEY}.encoder.layers.${i}`;
    return {
      key,
      selfAttn: loadMsDeformAttn(sd, `${key}.self_attn`, C, pd.heads, pd.numLevels, pd.numPoints),
      norms: [loadLayerNorm(sd, `${key}.norms.0`, C), loadLayerNorm(sd, `${key}.norms.1`, C)],
      ffn: loadFfn(sd, `${key}.ffn`, C, pd.ffn),
    };
  });
  return {
    inputConvs,
    levelEncoding: tf.tensor2d(sd.take(`${KEY}.level_encoding.weight`, [pd.numLevels, C]).data, [pd.numLevels, C]),
    layers,
    lateralConvs,
    outputConvs,
    maskFeature: loadConv2d(sd, `${KEY}.mask_feature`, { inC: C, outC: h.outChannels, k: 1 }),
  };
}

function applyConvGn(x: tf.Tensor4D, p: ConvGn, key: string, relu: boolean, tap?: Tap): tf.Tensor4D {
  const c = conv2d(x, p.conv);
  tap?.(`${key}.conv`, c);
  const g = groupNorm(c, p.gn);
  tap?.(`${key}.gn`, g);
  const out = relu ? tf.relu(g) : g;
  tap?.(key, out);
  return out;
}

/**
 * MlvlPointGenerator(offset 0.5) priors of one level divided by (w, h) * stride, in float32 as
 * mmdet computes them: ((x + 0.5) * stride) / (w * stride). Returns [h*w, 2] (x, y).
 */
function referencePoints(h: number, w: number, stride: number): Float32Array {
  const f = Math.fround;
  const out = new Float32Array(h * w * 2);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      out[(y * w + x) * 2] = f(f((x + 0.5) * stride) / (w * stride));
      out[(y * w + x) * 2 + 1] = f(f((y + 0.5) * stride) / (h * stride));
    }
  }
  return out;
}

export interface PixelDecoderOutput {
  maskFeature: tf.Tensor4D;
  /** From low to high resolution (strides 32, 16, 8). */
  multiScale: tf.Tensor4D[];
}

export function pixelDecoder(feats: tf.Tensor4D[], w: PixelDecoderWeights, cfg: SegConfig, tap?: Tap): PixelDecoderOutput {
  const pd = cfg.head.pixelDecoder;
  const nIn = feats.length;
  const L = pd.numLevels;
  const B = feats[0].shape[0];
  const C = cfg.head.featChannels;
  const inputs: tf.Tensor3D[] = [];
  const posList: tf.Tensor3D[] = [];
  const shapes: Array<[number, number]> = [];
  const refs: Float32Array[] = [];
  for (let i = 0; i < L; i++) {
    const levelIdx = nIn - i - 1;
    const feat = feats[levelIdx];
    const [, h, ww] = feat.shape;
    const projected = applyConvGn(feat, w.inputConvs[i], `${KEY}.input_convs.${i}`, false, tap);
    const pos = tf.tile(tf.expandDims(sinePositionalEncoding(h, ww, pd.posFeats), 0), [B, 1, 1, 1]);
    tap?.(i === 0 ? `${KEY}.postional_encoding` : `${KEY}.postional_encoding#${i}`, pos);
    const levelEmbed = tf.reshape(tf.slice(w.levelEncoding, [i, 0], [1, C]), [1, 1, 1, C]);
    const levelPos = tf.add(levelEmbed, pos);
    inputs.push(tf.reshape(projected, [B, h * ww, C]));
    posList.push(tf.reshape(levelPos, [B, h * ww, C]));
    shapes.push([h, ww]);
    refs.push(referencePoints(h, ww, pd.strides[levelIdx]));
  }
  const N = shapes.reduce((a, [h, ww]) => a + h * ww, 0);
  const refAll = new Float32Array(N * 2);
  let off = 0;
  for (const r of refs) { refAll.set(r, off); off += r.length; }
  // [N, 2] -> [B, N, L, 2]: the same point on every level (valid ratios are all 1)
  const refPoints = tf.tile(tf.reshape(tf.tensor2d(refAll, [N, 2]), [1, N, 1, 2]), [B, 1, L, 1]);
  let query = tf.concat(inputs, 1);
  const queryPos = tf.concat(posList, 1);
  for (const layer of w.layers) {
    const q0 = query;
    query = tf.tidy(() => {
      const a = msDeformAttn(q0, queryPos, refPoints, shapes, layer.selfAttn, tap);
      tap?.(`${layer.key}.self_attn`, a);
      const n0 = layerNorm(a, layer.norms[0], LN_EPS) as tf.Tensor3D;
      tap?.(`${layer.key}.norms.0`, n0);
      const f = ffn(n0, layer.ffn);
      tap?.(`${layer.key}.ffn`, f);
      const n1 = layerNorm(f, layer.norms[1], LN_EPS) as tf.Tensor3D;
      tap?.(`${layer.key}.norms.1`, n1);
      tap?.(layer.key, n1);
      return n1;
    });
  }
  tap?.(`${KEY}.encoder`, query);
  const outs: tf.Tensor4D[] = [];
  let start = 0;
  for (const [h, ww] of shapes) {
    outs.push(tf.reshape(tf.slice(query, [0, start, 0], [B, h * ww, C]), [B, h, ww, C]));
    start += h * ww;
  }
  for (let j = 0, i = nIn - L - 1; i >= 0; i--, j++) {
    const cur = applyConvGn(feats[i], w.lateralConvs[j], `${KEY}.lateral_convs.${j}`, false, tap);
    const [, h, ww] = cur.shape;
    const up = tf.image.resizeBilinear(outs[outs.length - 1], [h, ww], false, true);
    const y = tf.add(cur, up) as tf.Tensor4D;
    outs.push(applyConvGn(y, w.outputConvs[j], `${KEY}.output_convs.${j}`, true, tap));
  }
  const multiScale = outs.slice(0, pd.numLevels);
  const maskFeature = conv2d(outs[outs.length - 1], w.maskFeature);
  tap?.(`${KEY}.mask_feature`, maskFeature);
  tap?.(`${KEY}.0`, maskFeature);
  multiScale.forEach((m, i) => tap?.(`${KEY}.1.${i}`, m));
  return { maskFeature, multiScale };
}
