/**
 * Depth Anything 3's DPT (model/dpt.py): the mono/metric head, and the pieces DualDPT shares
 * (`_make_scratch`, `_make_fusion_block`, the per-stage projection and resize). Built on the
 * V2 DPT blocks (src/dpt: fusion blocks, residual units) and src/nn. `model.head.*`; NHWC maps.
 *
 * The mono head: projects -> resize (x4, x2, x1, /2) -> layerK_rn -> refinenet4..1 ->
 * output_conv1 -> bilinear (align_corners) to 14x the patch grid -> output_conv2 (conv 3x3, ReLU,
 * conv 1x1) -> exp = depth; sky_output_conv2 (same layout) -> ReLU = sky.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Da3HeadConfig, PATCH_SIZE } from '../config/da3';
import { FeatureFusionBlockWeights, featureFusionBlock, loadFeatureFusionBlock } from '../dpt/feature_fusion_block';
import { Conv2dWeights, conv2d, loadConv2d } from '../nn/conv2d';
import { ConvTranspose2dWeights, convTranspose2d, loadConvTranspose2d } from '../nn/conv_transpose2d';
import { resizeBilinearAlignCorners } from '../nn/interpolate';
import { Tap } from '../nn/tap';
import { StateDictReader } from '../weights/state_dict';
import { Da3Feature } from './dinov2/vision_transformer';

export const HEAD = 'model.head';
/** `head_features_2` of both heads. */
export const HEAD_FEATURES_2 = 32;

export type Da3ResizeWeights = { kind: 'up'; conv: ConvTranspose2dWeights } | { kind: 'identity' } | { kind: 'down'; conv: Conv2dWeights };

/** projects.i (1x1), resize_layers.i. */
export interface StageWeights {
  project: Conv2dWeights;
  resize: Da3ResizeWeights;
}

export function loadStages(sd: StateDictReader, h: Da3HeadConfig): StageWeights[] {
  return h.outChannels.map((oc, i) => {
    const key = `${HEAD}.resize_layers.${i}`;
    const resize: Da3ResizeWeights = i === 0 ? { kind: 'up', conv: loadConvTranspose2d(sd, key, oc, oc, 4) }
      : i === 1 ? { kind: 'up', conv: loadConvTranspose2d(sd, key, oc, oc, 2) }
        : i === 2 ? { kind: 'identity' }
          : { kind: 'down', conv: loadConv2d(sd, key, { inC: oc, outC: oc, k: 3, stride: 2, pad: 1 }) };
    return { project: loadConv2d(sd, `${HEAD}.projects.${i}`, { inC: h.dimIn, outC: oc, k: 1 }), resize };
  });
}

export function resizeStage(x: tf.Tensor4D, r: Da3ResizeWeights): tf.Tensor4D {
  return r.kind === 'up' ? convTranspose2d(x, r.conv) : r.kind === 'down' ? conv2d(x, r.conv) : x;
}

/** _make_scratch's layerK_rn (3x3, no bias) and a chain of four fusion blocks (refinenet4 without a skip). */
export function loadLayerRn(sd: StateDictReader, h: Da3HeadConfig): Conv2dWeights[] {
  return h.outChannels.map((oc, i) => loadConv2d(sd, `${HEAD}.scratch.layer${i + 1}_rn`, { inC: oc, outC: h.features, k: 3, pad: 1, bias: false }));
}

export function loadFusionChain(sd: StateDictReader, h: Da3HeadConfig, suffix = ''): FeatureFusionBlockWeights[] {
  return [1, 2, 3, 4].map((n) => loadFeatureFusionBlock(sd, `${HEAD}.scratch.refinenet${n}${suffix}`, h.features, false, n !== 4));
}

const sizeOf = (t: tf.Tensor4D): [number, number] => [t.shape[1], t.shape[2]];

/** refinenet4(l4, size l3) -> refinenet3(., l3, size l2) -> refinenet2(., l2, size l1) -> refinenet1(., l1) (x2); every level's output. */
export function fuseChain(rn: tf.Tensor4D[], chain: FeatureFusionBlockWeights[], mapTap?: Tap): tf.Tensor4D[] {
  const [r1, r2, r3, r4] = chain;
  const p4 = featureFusionBlock(rn[3], undefined, r4, sizeOf(rn[2]), mapTap);
  const p3 = featureFusionBlock(p4, rn[2], r3, sizeOf(rn[1]), mapTap);
  const p2 = featureFusionBlock(p3, rn[1], r2, sizeOf(rn[0]), mapTap);
  const p1 = featureFusionBlock(p2, rn[0], r1, undefined, mapTap);
  return [p4, p3, p2, p1];
}

/** A Sequential(conv 3x3, ReLU, conv 1x1) ending a head: indices 0 and 2. */
export type OutputConv2 = [Conv2dWeights, Conv2dWeights];

export function loadOutputConv2(sd: StateDictReader, key: string, inC: number, outC: number): OutputConv2 {
  return [loadConv2d(sd, `${key}.0`, { inC, outC: HEAD_FEATURES_2, k: 3, pad: 1 }), loadConv2d(sd, `${key}.2`, { inC: HEAD_FEATURES_2, outC, k: 1 })];
}

export function outputConv2(x: tf.Tensor4D, w: OutputConv2, key: string, mapTap?: Tap): tf.Tensor4D {
  const pre = conv2d(x, w[0]);
  mapTap?.(`${key}.0`, pre);
  const out = conv2d(tf.relu(pre), w[1]);
  mapTap?.(key, out);
  return out;
}

export interface DptWeights {
  stages: StageWeights[];
  layerRn: Conv2dWeights[];
  refinenet: FeatureFusionBlockWeights[];
  output_conv1: Conv2dWeights;
  output_conv2: OutputConv2;
  sky_output_conv2: OutputConv2;
}

export function loadDpt(sd: StateDictReader, h: Da3HeadConfig): DptWeights {
  const F = h.features;
  return {
    stages: loadStages(sd, h),
    layerRn: loadLayerRn(sd, h),
    refinenet: loadFusionChain(sd, h),
    output_conv1: loadConv2d(sd, `${HEAD}.scratch.output_conv1`, { inC: F, outC: F / 2, k: 3, pad: 1 }),
    output_conv2: loadOutputConv2(sd, `${HEAD}.scratch.output_conv2`, F / 2, h.outputDim),
    sky_output_conv2: loadOutputConv2(sd, `${HEAD}.scratch.sky_output_conv2`, F / 2, 1),
  };
}

/** Mono DPT: features of S views -> depth (exp) and sky (ReLU), each [S, 14h, 14w]. */
export function dpt(feats: Da3Feature[], h: number, w: number, wt: DptWeights, mapTap?: Tap): { depth: tf.Tensor3D; sky: tf.Tensor3D } {
  const S = feats[0].tokens.shape[0];
  const levels = feats.map((f, i) => {
    // norm_type 'idt': no token norm (and nothing recorded for it).
    const x = conv2d(tf.reshape(f.tokens, [S, h, w, f.tokens.shape[2]]), wt.stages[i].project);
    mapTap?.(`${HEAD}.projects.${i}`, x);
    const r = resizeStage(x, wt.stages[i].resize);
    mapTap?.(`${HEAD}.resize_layers.${i}`, r);
    return r;
  });
  const rn = levels.map((l, i) => {
    const r = conv2d(l, wt.layerRn[i]);
    mapTap?.(`${HEAD}.scratch.layer${i + 1}_rn`, r);
    return r;
  });
  const fused = fuseChain(rn, wt.refinenet, mapTap)[3];
  const out1 = conv2d(fused, wt.output_conv1);
  mapTap?.(`${HEAD}.scratch.output_conv1`, out1);
  const feat = resizeBilinearAlignCorners(out1, h * PATCH_SIZE, w * PATCH_SIZE);
  const logits = outputConv2(feat, wt.output_conv2, `${HEAD}.scratch.output_conv2`, mapTap);
  const skyLogits = outputConv2(feat, wt.sky_output_conv2, `${HEAD}.scratch.sky_output_conv2`, mapTap);
  const [, H, W] = logits.shape;
  return { depth: tf.reshape(tf.exp(logits), [S, H, W]), sky: tf.reshape(tf.relu(skyLogits), [S, H, W]) };
}
