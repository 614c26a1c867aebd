import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig } from '../config/depth';
import { Conv2dWeights, conv2d, loadConv2d } from '../nn/conv2d';
import { PassTensor, bandRows } from '../backends/limits';
import { resizeBilinearAlignCorners, resizeBilinearAlignCornersRows } from '../nn/interpolate';
import { Tap } from '../nn/tap';
import { IntermediateLayer } from '../dinov2/vision_transformer';
import { StateDictReader } from '../weights/state_dict';
import { FeatureFusionBlockWeights, featureFusionBlock, loadFeatureFusionBlock } from './feature_fusion_block';
import { ReassembleWeights, loadReassemble, reassemble } from './reassemble';

/** Hidden width of output_conv2 in the official head (`head_features_2`). */
const HEAD_FEATURES_2 = 32;

/** `depth_head.scratch`: names kept from the official module tree. */
export interface ScratchWeights {
  layer1_rn: Conv2dWeights;
  layer2_rn: Conv2dWeights;
  layer3_rn: Conv2dWeights;
  layer4_rn: Conv2dWeights;
  refinenet1: FeatureFusionBlockWeights;
  refinenet2: FeatureFusionBlockWeights;
  refinenet3: FeatureFusionBlockWeights;
  refinenet4: FeatureFusionBlockWeights;
  output_conv1: Conv2dWeights;
  /** Sequential indices 0 (3x3 conv) and 2 (1x1 conv); 1 and 3 are activations. */
  output_conv2: [Conv2dWeights, Conv2dWeights];
}

export interface DptHeadWeights {
  levels: ReassembleWeights[];
  scratch: ScratchWeights;
  /** Metric heads end in a sigmoid, relative ones in a ReLU. */
  metric: boolean;
}

export function loadDptHead(sd: StateDictReader, key: string, cfg: ModelConfig): DptHeadWeights {
  const F = cfg.features;
  const s = `${key}.scratch`;
  const rn = (n: number) => loadConv2d(sd, `${s}.layer${n}_rn`, { inC: cfg.outChannels[n - 1], outC: F, k: 3, pad: 1, bias: false });
  const fusion = (n: number) => loadFeatureFusionBlock(sd, `${s}.refinenet${n}`, F, cfg.useBn, n !== 4);
  return {
    levels: [0, 1, 2, 3].map((i) => loadReassemble(sd, key, i, cfg)),
    scratch: {
      layer1_rn: rn(1), layer2_rn: rn(2), layer3_rn: rn(3), layer4_rn: rn(4),
      refinenet1: fusion(1), refinenet2: fusion(2), refinenet3: fusion(3), refinenet4: fusion(4),
      output_conv1: loadConv2d(sd, `${s}.output_conv1`, { inC: F, outC: F / 2, k: 3, pad: 1 }),
      output_conv2: [
        loadConv2d(sd, `${s}.output_conv2.0`, { inC: F / 2, outC: HEAD_FEATURES_2, k: 3, pad: 1 }),
        loadConv2d(sd, `${s}.output_conv2.2`, { inC: HEAD_FEATURES_2, outC: 1, k: 1 }),
      ],
    },
    metric: cfg.maxDepth !== undefined,
  };
}

const sizeOf = (t: tf.Tensor4D): [number, number] => [t.shape[1], t.shape[2]];

/**
 * What ZoeDepth's DepthAnythingCore hooks out of the head (its layer_names): `out_conv` =
 * output_conv2's first ReLU, `l4_rn` = scratch.layer4_rn, `r4`..`r1` = the fusion blocks. NHWC.
 */
export interface DptHooks {
  out_conv: tf.Tensor4D;
  l4_rn: tf.Tensor4D;
  r4: tf.Tensor4D;
  r3: tf.Tensor4D;
  r2: tf.Tensor4D;
  r1: tf.Tensor4D;
}

/** Four intermediate layers -> depth map [B, 14h, 14w, 1] (after the head's last activation). */
export function dptHead(layers: IntermediateLayer[], patchH: number, patchW: number, w: DptHeadWeights, tap?: Tap): tf.Tensor4D {
  return headPass(layers, patchH, patchW, w, tap, false).depth;
}

/** `dptHead`, also returning the intermediates ZoeDepth's core hooks (same single pass). */
export function dptHeadWithHooks(layers: IntermediateLayer[], patchH: number, patchW: number, w: DptHeadWeights, tap?: Tap): { depth: tf.Tensor4D; hooks: DptHooks } {
  const { depth, hooks } = headPass(layers, patchH, patchW, w, tap, true);
  return { depth, hooks: hooks! };
}

/**
 * The head. Each map is freed as soon as the next stage has read it (unless it is a hook that is
 * asked for): at ViT-L 518 the maps held to the end of the pass were about 1 GiB of wasm heap at
 * refinenet1, the pass's peak. Taps keep clones, so they see the same.
 */
function headPass(layers: IntermediateLayer[], patchH: number, patchW: number, w: DptHeadWeights, tap: Tap | undefined, withHooks: boolean): { depth: tf.Tensor4D; hooks?: DptHooks } {
  const s = w.scratch;
  const rnWeights = [s.layer1_rn, s.layer2_rn, s.layer3_rn, s.layer4_rn];
  // Scopes per stage free large intermediate maps early (the wasm heap is limited to 4 GB).
  const rn = layers.map((layer, i) => tf.tidy(() => conv2d(reassemble(layer, i, w.levels[i], patchH, patchW, tap), rnWeights[i])));
  rn.forEach((t, i) => tap?.(`depth_head.scratch.layer${i + 1}_rn`, t));
  const free = (t: tf.Tensor): void => { if (!withHooks) t.dispose(); };
  const path4 = tf.tidy(() => featureFusionBlock(rn[3], undefined, s.refinenet4, sizeOf(rn[2]), tap));
  free(rn[3]);
  const path3 = tf.tidy(() => featureFusionBlock(path4, rn[2], s.refinenet3, sizeOf(rn[1]), tap));
  rn[2].dispose();
  free(path4);
  const path2 = tf.tidy(() => featureFusionBlock(path3, rn[1], s.refinenet2, sizeOf(rn[0]), tap));
  rn[1].dispose();
  free(path3);
  const path1 = tf.tidy(() => featureFusionBlock(path2, rn[0], s.refinenet1, undefined, tap));
  rn[0].dispose();
  free(path2);
  // Both returned from the scope, so the caller's scope owns them (tf.keep would leave out_conv to no one).
  const [depth, outConv] = tf.tidy(() => {
    let hidden: tf.Tensor4D | undefined;
    const out = outputConvs(path1, patchH, patchW, s, w.metric, tap, withHooks ? (t) => { hidden = t; } : undefined, !withHooks);
    return withHooks ? [out, hidden!] : [out];
  });
  if (!withHooks) return { depth };
  return { depth, hooks: { out_conv: outConv!, l4_rn: rn[3], r4: path4, r3: path3, r2: path2, r1: path1 } };
}

/**
 * The tensors of output_conv2's first convolution over `rows` output rows (plus its 1-row halo on
 * each side): what decides the band height (src/backends/limits.ts bandRows). On webgl a 3x3
 * convolution is an im2col matrix (packed).
 */
export function outputBandTensors(B: number, rows: number, W: number, F: number, backend: string, webglIm2col: boolean): PassTensor[] {
  const list: PassTensor[] = [
    { name: 'depth_head.scratch.output_conv1 (upsampled, band)', shape: [B, rows + 2, W, F / 2] },
    { name: 'depth_head.scratch.output_conv2.0 (band)', shape: [B, rows + 2, W, HEAD_FEATURES_2] },
  ];
  if (backend === 'webgl' && webglIm2col) list.push({ name: 'depth_head.scratch.output_conv2.0 (im2col, band)', shape: [B, 9 * (F / 2), (rows + 2) * W], packed: true });
  return list;
}

/** tfjs-webgl's default; the flag exists only once the webgl backend is registered. */
function webglIm2col(): boolean {
  try { return tf.env().getBool('WEBGL_CONV_IM2COL'); } catch { return true; }
}

/**
 * output_conv1, bilinear to 14x the patch grid, output_conv2 (conv, ReLU, conv, ReLU or sigmoid).
 * The full-resolution part runs in bands of rows when one pass would not fit the backend (the
 * upsampled map of ViT-L at 518 is 131 MiB, past WebGPU's default 128 MiB binding): each band
 * resizes only the source rows it reads and convolves with a one-row halo, so every output pixel
 * is the same sum as in one pass. Taps (parity) see the bands joined.
 */
export function outputConvs(path1: tf.Tensor4D, patchH: number, patchW: number, s: ScratchWeights, metric: boolean, tap?: Tap, onOutConv?: (t: tf.Tensor4D) => void, consumePath1 = false): tf.Tensor4D {
  const out1 = conv2d(path1, s.output_conv1);
  if (consumePath1) path1.dispose();
  tap?.('depth_head.scratch.output_conv1', out1);
  const [B, , , C] = out1.shape;
  const H = patchH * 14;
  const W = patchW * 14;
  const rows = bandRows((r) => outputBandTensors(B, r, W, 2 * C, tf.getBackend(), webglIm2col()), H);
  if (rows >= H) {
    const up = resizeBilinearAlignCorners(out1, H, W);
    if (up !== out1) out1.dispose();
    return outputConv2(up, s, metric, tap, onOutConv, undefined, true);
  }
  // Bands: the taps and the hook get each stage joined (only parity and ZoeDepth ask for them).
  const parts: Record<string, tf.Tensor4D[]> = {};
  const bandTap: Tap | undefined = tap && ((name, t) => { (parts[name] ??= []).push(tf.keep(t.clone() as tf.Tensor4D)); });
  const hidden: tf.Tensor4D[] = [];
  const bands: tf.Tensor4D[] = [];
  for (let r0 = 0; r0 < H; r0 += rows) {
    const r1 = Math.min(H, r0 + rows);
    const a0 = Math.max(0, r0 - 1);
    const a1 = Math.min(H, r1 + 1);
    bands.push(tf.tidy(() => {
      const up = resizeBilinearAlignCornersRows(out1, H, W, a0, a1);
      // The conv over rows [a0, a1) zero-pads at both ends: keep only rows whose neighbours are real (or the image's edge).
      const crop = (t: tf.Tensor4D) => tf.slice(t, [0, r0 - a0, 0, 0], [-1, r1 - r0, -1, -1]);
      return outputConv2(up, s, metric, bandTap, (h) => { if (onOutConv) hidden.push(tf.keep(h)); }, crop);
    }));
  }
  const out = tf.concat(bands, 1) as tf.Tensor4D;
  tf.dispose(bands);
  if (onOutConv) {
    onOutConv(tf.concat(hidden, 1) as tf.Tensor4D);
    tf.dispose(hidden);
  }
  if (tap) {
    for (const [name, list] of Object.entries(parts)) {
      tf.tidy(() => tap(name, tf.concat(list, 1)));
      tf.dispose(list);
    }
  }
  return out;
}

/**
 * output_conv2 on the upsampled map (or a band of it): 3x3 conv, ReLU, 1x1 conv, ReLU or sigmoid.
 * `crop` cuts a band's halo rows off after the 3x3 convolution.
 */
function outputConv2(up: tf.Tensor4D, s: ScratchWeights, metric: boolean, tap?: Tap, onOutConv?: (t: tf.Tensor4D) => void, crop: (t: tf.Tensor4D) => tf.Tensor4D = (t) => t, consume = false): tf.Tensor4D {
  // consume: `up` and each map after it are freed once read (the unbanded pass at full resolution).
  const conv = conv2d(up, s.output_conv2[0]);
  if (consume) up.dispose();
  const pre = crop(conv);
  tap?.('depth_head.scratch.output_conv2.0', pre);
  const hidden = tf.relu(pre);
  if (consume) pre.dispose();
  tap?.('depth_head.scratch.output_conv2.1', hidden);
  onOutConv?.(hidden as tf.Tensor4D);
  const raw = conv2d(hidden, s.output_conv2[1]);
  if (consume && !onOutConv) hidden.dispose();
  tap?.('depth_head.scratch.output_conv2.2', raw);
  const out = metric ? tf.sigmoid(raw) : tf.relu(raw);
  tap?.('depth_head.scratch.output_conv2.3', out);
  tap?.('depth_head.scratch.output_conv2', out);
  tap?.('depth_head', out);
  return out;
}
