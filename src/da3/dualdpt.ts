/**
 * DualDPT (model/dualdpt.py): the any-view head. A shared token LayerNorm, per-stage projection
 * with the UV position embedding, two independent fusion chains: the main one (depth + its
 * confidence at 14x the patch grid) and the auxiliary one (ray origin + direction and confidence
 * at 8x the patch grid; four output levels, only the last feeds the result). The four
 * output_conv2_aux Sequentials share one LayerNorm (index 2), which the checkpoint stores once.
 * `model.head.*`; NHWC maps.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Da3HeadConfig, PATCH_SIZE } from '../config/da3';
import { FeatureFusionBlockWeights } from '../dpt/feature_fusion_block';
import { Conv2dWeights, conv2d, loadConv2d } from '../nn/conv2d';
import { resizeBilinearAlignCorners } from '../nn/interpolate';
import { LayerNormWeights, layerNorm, loadLayerNorm } from '../nn/layer_norm';
import { Tap } from '../nn/tap';
import { StateDictReader } from '../weights/state_dict';
import { Da3Feature, Da3Taps } from './dinov2/vision_transformer';
import { HEAD, HEAD_FEATURES_2, OutputConv2, StageWeights, fuseChain, loadFusionChain, loadLayerRn, loadOutputConv2, loadStages, outputConv2, resizeStage } from './dpt';
import { uvPosEmbed } from './utils/head_utils';

/** nn.LayerNorm's default eps (the head's token norm and the aux LayerNorm). */
const LN_EPS = 1e-5;
const AUX_LEVELS = 4;
/** Ray origin (3) + direction (3), then the confidence logit. */
const RAY_CHANNELS = 7;

export interface DualDptWeights {
  norm: LayerNormWeights;
  stages: StageWeights[];
  layerRn: Conv2dWeights[];
  refinenet: FeatureFusionBlockWeights[];
  refinenetAux: FeatureFusionBlockWeights[];
  output_conv1: Conv2dWeights;
  output_conv2: OutputConv2;
  /** Per level: five 3x3 convs F -> F/2 -> F -> F/2 -> F -> F/2, no activations. */
  output_conv1_aux: Conv2dWeights[][];
  /** The last level's Sequential(conv 3x3, Permute, LayerNorm (shared), Permute, ReLU, conv 1x1). */
  output_conv2_aux: { conv0: Conv2dWeights; ln: LayerNormWeights; conv5: Conv2dWeights };
}

export function loadDualDpt(sd: StateDictReader, h: Da3HeadConfig): DualDptWeights {
  const F = h.features;
  const s = `${HEAD}.scratch`;
  const aux1 = (L: number) => [F / 2, F, F / 2, F, F / 2].map((outC, j) =>
    loadConv2d(sd, `${s}.output_conv1_aux.${L}.${j}`, { inC: j % 2 === 0 ? F : F / 2, outC, k: 3, pad: 1 }));
  const last = AUX_LEVELS - 1;
  const a2 = `${s}.output_conv2_aux.${last}`;
  return {
    norm: loadLayerNorm(sd, `${HEAD}.norm`, h.dimIn),
    stages: loadStages(sd, h),
    layerRn: loadLayerRn(sd, h),
    refinenet: loadFusionChain(sd, h),
    refinenetAux: loadFusionChain(sd, h, '_aux'),
    output_conv1: loadConv2d(sd, `${s}.output_conv1`, { inC: F, outC: F / 2, k: 3, pad: 1 }),
    output_conv2: loadOutputConv2(sd, `${s}.output_conv2`, F / 2, h.outputDim),
    output_conv1_aux: Array.from({ length: AUX_LEVELS }, (_, L) => aux1(L)),
    output_conv2_aux: {
      conv0: loadConv2d(sd, `${a2}.0`, { inC: F / 2, outC: HEAD_FEATURES_2, k: 3, pad: 1 }),
      ln: loadLayerNorm(sd, `${a2}.2`, HEAD_FEATURES_2),
      conv5: loadConv2d(sd, `${a2}.5`, { inC: HEAD_FEATURES_2, outC: RAY_CHANNELS, k: 1 }),
    },
  };
}

/** A call counter for the UV embedding's taps (`create_uv_grid`, `#1`, ...). */
function posEmbedAdder(W: number, H: number, tap?: Tap) {
  let calls = 0;
  return (x: tf.Tensor4D): tf.Tensor4D => {
    const [, h, w, C] = x.shape;
    const pe = uvPosEmbed(h, w, C, W, H);
    if (tap) {
      const suffix = calls ? `#${calls}` : '';
      tap(`${HEAD}.create_uv_grid${suffix}`, tf.tensor3d(pe.grid, [h, w, 2]));
      tap(`${HEAD}.position_grid_to_embed${suffix}`, tf.tensor3d(pe.embed, [h, w, C]));
    }
    calls++;
    return tf.add(x, pe.scaled);
  };
}

export interface DualDptOutput {
  depth: tf.Tensor3D; // [S, 14h, 14w], exp
  depthConf: tf.Tensor3D; // [S, 14h, 14w], 1 + exp
  ray: tf.Tensor4D; // [S, 8h, 8w, 6], linear
  rayConf: tf.Tensor3D; // [S, 8h, 8w], 1 + exp
}

/** Features of S views (processed together; the official chunks of 8 views compute the same) -> the head's dict. */
export function dualDpt(feats: Da3Feature[], h: number, w: number, H: number, W: number, wt: DualDptWeights, taps: Da3Taps = {}): DualDptOutput {
  const { tap, mapTap } = taps;
  const S = feats[0].tokens.shape[0];
  const addPos = posEmbedAdder(W, H, tap);
  const levels = feats.map((f, i) => {
    const n = layerNorm(f.tokens, wt.norm, LN_EPS);
    tap?.(`${HEAD}.norm${i ? `#${i}` : ''}`, n);
    const x = conv2d(tf.reshape(n, [S, h, w, f.tokens.shape[2]]), wt.stages[i].project);
    mapTap?.(`${HEAD}.projects.${i}`, x);
    const r = resizeStage(addPos(x), wt.stages[i].resize);
    mapTap?.(`${HEAD}.resize_layers.${i}`, r);
    return r;
  });
  const rn = levels.map((l, i) => {
    const r = conv2d(l, wt.layerRn[i]);
    mapTap?.(`${HEAD}.scratch.layer${i + 1}_rn`, r);
    return r;
  });
  // The official _fuse interleaves the chains level by level; each reads only its own outputs and rn.
  const main = fuseChain(rn, wt.refinenet, mapTap)[3];
  const auxList = fuseChain(rn, wt.refinenetAux, mapTap); // refinenet4_aux .. refinenet1_aux
  const out1 = conv2d(main, wt.output_conv1);
  mapTap?.(`${HEAD}.scratch.output_conv1`, out1);
  // Levels 0-2 of the aux pre-head are computed only to be shown (the official code computes them and drops them).
  const levelsToRun = mapTap ? [0, 1, 2, 3] : [3];
  let lastAux: tf.Tensor4D | undefined;
  for (const L of levelsToRun) {
    let a = auxList[L];
    wt.output_conv1_aux[L].forEach((conv, j) => {
      a = conv2d(a, conv);
      if (j < 4) mapTap?.(`${HEAD}.scratch.output_conv1_aux.${L}.${j}`, a);
    });
    mapTap?.(`${HEAD}.scratch.output_conv1_aux.${L}`, a);
    if (L === AUX_LEVELS - 1) lastAux = a;
  }

  const Hout = h * PATCH_SIZE;
  const Wout = w * PATCH_SIZE;
  const fusedMain = addPos(resizeBilinearAlignCorners(out1, Hout, Wout));
  const logits = outputConv2(fusedMain, wt.output_conv2, `${HEAD}.scratch.output_conv2`, mapTap); // [S, H, W, 2]
  const [d, c] = tf.split(logits, 2, -1);
  const depth = tf.reshape(tf.exp(d), [S, Hout, Wout]) as tf.Tensor3D;
  const depthConf = tf.reshape(tf.add(tf.exp(c), 1), [S, Hout, Wout]) as tf.Tensor3D;

  const aux = addPos(lastAux!);
  const a2 = wt.output_conv2_aux;
  const key = `${HEAD}.scratch.output_conv2_aux.${AUX_LEVELS - 1}`;
  const a0 = conv2d(aux, a2.conv0);
  mapTap?.(`${key}.0`, a0);
  const ln = layerNorm(a0, a2.ln, LN_EPS); // over channels: NHWC's last axis, as the Permutes arrange it
  tap?.(`${key}.2`, ln);
  const auxLogits = conv2d(tf.relu(ln) as tf.Tensor4D, a2.conv5);
  mapTap?.(key, auxLogits);
  const [hh, wa] = [auxLogits.shape[1], auxLogits.shape[2]];
  const ray = tf.slice(auxLogits, [0, 0, 0, 0], [S, hh, wa, 6]);
  const rayConf = tf.reshape(tf.add(tf.exp(tf.slice(auxLogits, [0, 0, 0, 6], [S, hh, wa, 1])), 1), [S, hh, wa]) as tf.Tensor3D;
  return { depth, depthConf, ray, rayConf };
}
