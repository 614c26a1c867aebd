/**
 * `dpt_temporal.py` DPTHeadTemporal: the V2 DPT head (src/dpt blocks, loaded under `head.`) with
 * four TemporalModules, on layer_3 and layer_4 before their `layerN_rn` and on path_4 and path_3
 * after their fusion blocks; refinenet2, refinenet1 and the output convs run per micro-batch.
 */
import * as tf from '@tensorflow/tfjs-core';
import { VdaConfig } from '../config/vda';
import { IntermediateLayer } from '../dinov2/vision_transformer';
import { DptHeadWeights, loadDptHead, outputConvs } from '../dpt/dpt_head';
import { featureFusionBlock } from '../dpt/feature_fusion_block';
import { reassemble } from '../dpt/reassemble';
import { PassTensor, bandRows } from '../backends/limits';
import { conv2d } from '../nn/conv2d';
import { Tap, countingTap, renameTap } from '../nn/tap';
import { StateDictReader } from '../weights/state_dict';
import { TemporalModuleWeights, loadTemporalModule, temporalModule } from './motion_module/motion_module';

export interface DptHeadTemporalWeights {
  /** projects, resize_layers, scratch: the DPT head's own blocks. */
  dpt: DptHeadWeights;
  /** motion_modules.0..3: layer_3, layer_4, path_4, path_3. */
  motion_modules: TemporalModuleWeights[];
  microBatch: number;
}

export function loadDptHeadTemporal(sd: StateDictReader, key: string, cfg: VdaConfig): DptHeadTemporalWeights {
  const m = cfg.model;
  const widths = [m.outChannels[2], m.outChannels[3], m.features, m.features];
  return {
    dpt: loadDptHead(sd, key, m),
    motion_modules: widths.map((C, i) => loadTemporalModule(sd, `${key}.motion_modules.${i}`, C, cfg.temporal)),
    microBatch: cfg.microBatch,
  };
}

/** Streaming cache: 8 tensors, module i's attention block k at 2i + k, [(B*h*w), frames, C]. */
export type TemporalStates = tf.Tensor3D[];

const sizeOf = (t: tf.Tensor4D): [number, number] => [t.shape[1], t.shape[2]];

/**
 * What the tail holds for `frames` frames at 14h x 14w, for src/backends/limits.ts bandRows: every
 * intermediate lives until the piece ends (refinenet2 and refinenet1 at a quarter and half of the
 * resolution, output_conv1 resized, output_conv2.0 and its ReLU), about 8 full-resolution maps of
 * half the features (measured with tf.profile: about 830 MiB for 2 frames of VDA-S at 518x924).
 */
export function tailTensors(frames: number, H: number, W: number, features: number): PassTensor[] {
  return [{ name: 'head.scratch tail (a piece of frames: about 8 full-resolution maps)', shape: [8, frames, H, W, features / 2] }];
}

/**
 * Four intermediate layers of B*T frames -> depth [B*T, 14h, 14w, 1] (after the last ReLU) and
 * the new frames' temporal states. `cached`: the earlier frames' states (streaming), same order.
 * Unless recording, `layers` and each intermediate are disposed once used (a 32-frame window at
 * 518 holds gigabytes of them), and `keepStates` false drops the states (the offline pipeline).
 */
export function dptHeadTemporal(layers: IntermediateLayer[], patchH: number, patchW: number, T: number, w: DptHeadTemporalWeights, cached?: TemporalStates, tap?: Tap, keepStates = true): { depth: tf.Tensor4D; states: TemporalStates } {
  const s = w.dpt.scratch;
  // The shared blocks name their outputs `depth_head.*` (the image models' prefix): `head.*` here.
  const t = renameTap(tap, 'depth_head.', 'head.');
  const release = (...x: tf.Tensor[]) => { if (!t) tf.dispose(x); };
  // A scope per stage (unless recording) frees its intermediates as soon as it ends.
  const scoped = <R extends tf.Tensor>(f: () => R): R => (t ? f() : tf.tidy(f));
  // Unless recording, each level in pieces of a micro-batch of frames (per-frame convolutions: the
  // same values), its tokens disposed once reassembled.
  const BT = layers[0].patch.shape[0];
  const [l1, l2, l3in, l4in] = layers.map((layer, i) => {
    if (t || BT <= w.microBatch) return scoped(() => reassemble(layer, i, w.dpt.levels[i], patchH, patchW, t));
    const parts: tf.Tensor4D[] = [];
    for (let f = 0; f < BT; f += w.microBatch) {
      const n = Math.min(w.microBatch, BT - f);
      parts.push(tf.tidy(() => reassemble({ patch: tf.slice(layer.patch, [f, 0, 0], [n, -1, -1]), cls: tf.slice(layer.cls, [f, 0], [n, -1]) }, i, w.dpt.levels[i], patchH, patchW)));
    }
    release(layer.patch, layer.cls);
    const level = tf.concat(parts, 0);
    tf.dispose(parts);
    return level;
  });
  const mm = w.motion_modules;
  const states: TemporalStates = [];
  const temporal = (x: tf.Tensor4D, i: number): tf.Tensor4D => {
    // A scope per module (unless recording): its intermediates over every frame and cached state
    // (at 518, gigabytes in one streaming frame) are freed before the next module runs.
    const call = () => temporalModule(x, T, mm[i], cached?.slice(2 * i, 2 * i + 2), t, keepStates);
    const r = t ? call() : tf.tidy(() => call() as unknown as tf.TensorContainer) as unknown as ReturnType<typeof call>;
    states.push(...r.states);
    release(x);
    return r.out;
  };
  const l3 = temporal(l3in, 0);
  const l4 = temporal(l4in, 1);
  const rn = [scoped(() => conv2d(l1, s.layer1_rn)), scoped(() => conv2d(l2, s.layer2_rn)), scoped(() => conv2d(l3, s.layer3_rn)), scoped(() => conv2d(l4, s.layer4_rn))];
  release(l1, l2, l3, l4);
  rn.forEach((r, i) => t?.(`head.scratch.layer${i + 1}_rn`, r));
  const path4 = temporal(scoped(() => featureFusionBlock(rn[3], undefined, s.refinenet4, sizeOf(rn[2]), t)), 2);
  const path3 = temporal(scoped(() => featureFusionBlock(path4, rn[2], s.refinenet3, sizeOf(rn[1]), t)), 3);
  release(path4, rn[2], rn[3]);

  // The tail per micro-batch (the official code's memory saving; per-frame ops, same result).
  // Unless recording, in pieces of at most a micro-batch, fewer frames where its maps would not fit.
  const mb = w.microBatch;
  const tail = countingTap(t);
  const run = (from: number, n: number): tf.Tensor4D => {
    const cut = (x: tf.Tensor4D) => (n === BT ? x : tf.slice(x, [from, 0, 0, 0], [n, -1, -1, -1]));
    const r1 = cut(rn[0]);
    const path2 = featureFusionBlock(cut(path3), cut(rn[1]), s.refinenet2, sizeOf(r1), tail);
    const path1 = featureFusionBlock(path2, r1, s.refinenet1, undefined, tail);
    return outputConvs(path1, patchH, patchW, s, false, tail);
  };
  const piece = t ? (BT <= mb || BT % mb !== 0 ? BT : mb) : bandRows((n) => tailTensors(n, patchH * 14, patchW * 14, s.output_conv1.w.shape[2]), Math.min(BT, mb));
  let depth: tf.Tensor4D;
  if (piece >= BT) depth = run(0, BT);
  else {
    const parts: tf.Tensor4D[] = [];
    for (let i = 0; i < BT; i += piece) parts.push(tf.tidy(() => run(i, Math.min(piece, BT - i))));
    depth = tf.concat(parts, 0);
    tf.dispose(parts);
  }
  release(path3, rn[0], rn[1]);
  t?.('head.0', depth);
  return { depth, states };
}
