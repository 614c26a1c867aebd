import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig } from '../config/depth';
import { gelu } from '../nn/activations';
import { Conv2dWeights, conv2d, loadConv2d } from '../nn/conv2d';
import { ConvTranspose2dWeights, convTranspose2d, loadConvTranspose2d } from '../nn/conv_transpose2d';
import { LinearWeights, linear, loadLinear } from '../nn/linear';
import { Tap } from '../nn/tap';
import { IntermediateLayer } from '../dinov2/vision_transformer';
import { StateDictReader } from '../weights/state_dict';

/**
 * The DPT head's per-level reassembly: readout (`readout_projects.i`), tokens -> map,
 * `projects.i` (1x1 conv), `resize_layers.i` (x4 and x2 transposed convs, identity, stride-2 conv).
 */
export type ResizeLayerWeights =
  | { kind: 'up'; conv: ConvTranspose2dWeights }
  | { kind: 'identity' }
  | { kind: 'down'; conv: Conv2dWeights };

export interface ReassembleWeights {
  readout?: LinearWeights; // readout_projects.i.0 (Linear 2C -> C, then GELU)
  project: Conv2dWeights; // projects.i
  resize: ResizeLayerWeights; // resize_layers.i
}

export function loadReassemble(sd: StateDictReader, key: string, i: number, cfg: ModelConfig): ReassembleWeights {
  const C = cfg.embedDim;
  const outC = cfg.outChannels[i];
  const resizeKey = `${key}.resize_layers.${i}`;
  const resizes: Array<() => ResizeLayerWeights> = [
    () => ({ kind: 'up', conv: loadConvTranspose2d(sd, resizeKey, outC, outC, 4) }),
    () => ({ kind: 'up', conv: loadConvTranspose2d(sd, resizeKey, outC, outC, 2) }),
    () => ({ kind: 'identity' }),
    () => ({ kind: 'down', conv: loadConv2d(sd, resizeKey, { inC: outC, outC, k: 3, stride: 2, pad: 1 }) }),
  ];
  return {
    readout: cfg.useClsToken ? loadLinear(sd, `${key}.readout_projects.${i}.0`, 2 * C, C) : undefined,
    project: loadConv2d(sd, `${key}.projects.${i}`, { inC: C, outC, k: 1 }),
    resize: resizes[i](),
  };
}

/** Tokens of one level -> its NHWC map at the level's scale (x4, x2, x1, x1/2 of the patch grid). */
export function reassemble(layer: IntermediateLayer, i: number, w: ReassembleWeights, patchH: number, patchW: number, tap?: Tap): tf.Tensor4D {
  let tokens: tf.Tensor3D = layer.patch;
  const [B, N, C] = tokens.shape;
  if (w.readout) {
    const readout = tf.broadcastTo(tf.reshape(layer.cls, [B, 1, C]), [B, N, C]);
    tokens = gelu(linear(tf.concat([tokens, readout], -1), w.readout)) as tf.Tensor3D;
    tap?.(`depth_head.readout_projects.${i}`, tokens);
  }
  // Tokens are in row-major patch order, so [B, h*w, C] is already an NHWC map.
  const projected = conv2d(tf.reshape(tokens, [B, patchH, patchW, C]), w.project);
  tap?.(`depth_head.projects.${i}`, projected);
  const r = w.resize;
  const resized = r.kind === 'up' ? convTranspose2d(projected, r.conv) : r.kind === 'down' ? conv2d(projected, r.conv) : projected;
  tap?.(`depth_head.resize_layers.${i}`, resized);
  return resized;
}
