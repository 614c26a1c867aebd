/**
 * What a V1 metric (ZoeDepth) parity run computes (called by src/verify/parity.ts's runParity): the
 * model on the reference's `image` (RGB in [0, 1]) with every module tapped under the official
 * module paths (`core.prep`, `core.core.*`, `rel_depth`, head modules, `metric_depth`), and,
 * when the reference records them (the fixtures' infer.safetensors, merged in by the `parity`
 * command), the pipeline values: `forward` (model(image)['metric_depth']), `flip` (evaluate.py's
 * infer), `infer` (DepthModel.infer: padding + flip) and `infer_no_pad`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig } from '../config/depth';
import type { DepthAnythingWeights } from '../depth/depth_anything';
import { ParsedSafetensors } from '../io/safetensors';
import { Tap } from '../nn/tap';
import { zoeDepth } from '../depth/zoedepth';
import { evalInferZoe, inferZoe } from '../pipeline/zoe_infer';

const PIPELINE: Record<string, (w: DepthAnythingWeights, cfg: ModelConfig, x: tf.Tensor4D) => tf.Tensor4D> = {
  forward: (w, cfg, x) => zoeDepth(w, cfg, x),
  flip: (w, cfg, x) => evalInferZoe(w, cfg, x),
  infer: (w, cfg, x) => inferZoe(w, cfg, x),
  infer_no_pad: (w, cfg, x) => inferZoe(w, cfg, x, { padInput: false }),
};

/** `image`: NHWC [B, H, W, 3] in [0, 1]. Everything computed goes to `tap`. */
export function zoeParity(w: DepthAnythingWeights, cfg: ModelConfig, image: tf.Tensor4D, reference: ParsedSafetensors, tap: Tap): void {
  tf.dispose(zoeDepth(w, cfg, image, undefined, tap));
  for (const [key, run] of Object.entries(PIPELINE)) {
    if (!reference.tensors.has(key)) continue;
    const out = run(w, cfg, image);
    tap(key, out);
    out.dispose();
  }
}
