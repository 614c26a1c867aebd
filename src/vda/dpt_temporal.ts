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
 * Four intermediate layers of B*T frames -> depth [B*T, 14h, 14w, 1] (after the last ReLU) and
 * the new frames' temporal states. `cached`: the earlier frames' states (streaming), same order.
 */
export function dptHeadTemporal(layers: IntermediateLayer[], patchH: number, patchW: number, T: number, w: DptHeadTemporalWeights, cached?: TemporalStates, tap?: Tap): { depth: tf.Tensor4D; states: TemporalStates } {
  const s = w.dpt.scratch;
  // The shared blocks name their outputs `depth_head.*` (the image models' prefix): `head.*` here.
  const t = renameTap(tap, 'depth_head.', 'head.');
  const [l1, l2, l3in, l4in] = layers.map((layer, i) => reassemble(layer, i, w.dpt.levels[i], patchH, patchW, t));
  const mm = w.motion_modules;
  const states: TemporalStates = [];
  const temporal = (x: tf.Tensor4D, i: number): tf.Tensor4D => {
    // A scope per module (unless recording): its intermediates over every frame and cached state
    // (at 518, gigabytes in one streaming frame) are freed before the next module runs.
    const call = () => temporalModule(x, T, mm[i], cached?.slice(2 * i, 2 * i + 2), t);
    const r = t ? call() : tf.tidy(() => call() as unknown as tf.TensorContainer) as unknown as ReturnType<typeof call>;
    states.push(...r.states);
    return r.out;
  };
  const l3 = temporal(l3in, 0);
  const l4 = temporal(l4in, 1);
  const rn = [conv2d(l1, s.layer1_rn), conv2d(l2, s.layer2_rn), conv2d(l3, s.layer3_rn), conv2d(l4, s.layer4_rn)];
  rn.forEach((r, i) => t?.(`head.scratch.layer${i + 1}_rn`, r));
  const path4 = temporal(featureFusionBlock(rn[3], undefined, s.refinenet4, sizeOf(rn[2]), t), 2);
  const path3 = temporal(featureFusionBlock(path4, rn[2], s.refinenet3, sizeOf(rn[1]), t), 3);

  // The tail per micro-batch (the official code's memory saving; per-frame ops, same result).
  const BT = rn[0].shape[0];
  const mb = w.microBatch;
  const tail = countingTap(t);
  const run = (from: number, n: number): tf.Tensor4D => {
    const cut = (x: tf.Tensor4D) => (n === BT ? x : tf.slice(x, [from, 0, 0, 0], [n, -1, -1, -1]));
    const r1 = cut(rn[0]);
    const path2 = featureFusionBlock(cut(path3), cut(rn[1]), s.refinenet2, sizeOf(r1), tail);
    const path1 = featureFusionBlock(path2, r1, s.refinenet1, undefined, tail);
    return outputConvs(path1, patchH, patchW, s, false, tail);
  };
  let depth: tf.Tensor4D;
  if (BT <= mb || BT % mb !== 0) depth = run(0, BT);
  else {
    const parts: tf.Tensor4D[] = [];
    for (let i = 0; i < BT; i += mb) parts.push(tf.tidy(() => run(i, mb)));
    depth = tf.concat(parts, 0);
    tf.dispose(parts);
  }
  t?.('head.0', depth);
  return { depth, states };
}
