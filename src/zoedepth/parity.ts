/**
 * What a V1 metric (ZoeDepth) parity run computes: the model on the reference's `image` (RGB in
 * [0, 1], B x 3 x H x W) with every module tapped under the official module paths
 * (`core.prep`, `core.core.*`, `rel_depth`, head modules, `metric_depth`), and, when the
 * reference records them (the fixtures' infer.safetensors), the pipeline values:
 * `forward` (model(image)['metric_depth']), `flip` (evaluate.py's infer), `infer`
 * (DepthModel.infer: padding + flip) and `infer_no_pad`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig } from '../config';
import type { DepthAnythingWeights } from '../depth_anything';
import { ParsedSafetensors, TensorToWrite, entryToFloat32 } from '../io/safetensors';
import { captureTap } from '../parity';
import { evalInferZoe, inferZoe, zoeDepth } from './depth_model';

const PIPELINE: Record<string, (w: DepthAnythingWeights, cfg: ModelConfig, x: tf.Tensor4D) => tf.Tensor4D> = {
  forward: (w, cfg, x) => zoeDepth(w, cfg, x),
  flip: (w, cfg, x) => evalInferZoe(w, cfg, x),
  infer: (w, cfg, x) => inferZoe(w, cfg, x),
  infer_no_pad: (w, cfg, x) => inferZoe(w, cfg, x, { padInput: false }),
};

export function zoeParityTensors(w: DepthAnythingWeights, cfg: ModelConfig, reference: ParsedSafetensors): Map<string, TensorToWrite> {
  const e = reference.tensors.get('image');
  if (!e) throw new Error(`${reference.source}: the reference has no "image" tensor (the RGB input in [0, 1] of a V1 metric model)`);
  if (e.shape.length !== 4 || e.shape[1] !== 3) throw new Error(`${reference.source}: "image" must be [B, 3, H, W]; got [${e.shape.join(', ')}]`);
  const { tap, captured } = captureTap();
  const image = tf.tidy(() => tf.transpose(tf.tensor4d(entryToFloat32(e, reference.source), e.shape as [number, number, number, number]), [0, 2, 3, 1])) as tf.Tensor4D;
  try {
    tf.dispose(zoeDepth(w, cfg, image, undefined, tap));
    for (const [key, run] of Object.entries(PIPELINE)) {
      if (!reference.tensors.has(key)) continue;
      const out = run(w, cfg, image);
      tap(key, out);
      out.dispose();
    }
  } finally {
    image.dispose();
  }
  return captured;
}
