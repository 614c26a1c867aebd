/**
 * Parity of Video Depth Anything against the fixtures of ../shared/fixtures/vda (the official code
 * at 4f5ae23): the model on one window layer by layer (`activations.safetensors`). The pipeline and
 * streaming cases are in ./vda_pipeline_parity.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { VdaConfig } from '../config/vda';
import { ParsedSafetensors, TensorToWrite, entryToFloat32 } from '../io/safetensors';
import { bindVdaWeights, disposeVdaWeights, vdaForward } from '../vda/video_depth';
import { StateDict } from '../weights/state_dict';
import { TapRecorder, TensorComparison, compareWithReference, toTorchLayout } from './compare';

export interface VdaParityReport {
  ok: boolean;
  comparisons: TensorComparison[];
  notComputed: string[];
  computed: TensorToWrite[];
}

/** Recorded `NAME#k` of the micro-batched tail: ours are recorded the same way (countingTap). */
export const VDA_REQUIRED_KEYS = ['depth', 'pretrained.tokens', 'head.motion_modules.0.0', 'head.motion_modules.3.0', 'head.scratch.output_conv2.2'];

/** `model(input)` on the reference's `input` [B, T, 3, H, W]; every recorded float tensor compared. */
export async function vdaModelParity(sd: StateDict, cfg: VdaConfig, reference: ParsedSafetensors, source: string): Promise<VdaParityReport> {
  const entry = reference.tensors.get('input');
  if (!entry || entry.shape.length !== 5 || entry.shape[2] !== 3) throw new Error(`${reference.source}: "input" must be [B, T, 3, H, W]`);
  const [B, T, , H, W] = entry.shape;
  const w = bindVdaWeights(sd, cfg, source);
  const rec = new TapRecorder((t) => tf.clone(t));
  // Maps arrive NHWC (-> NCHW); `depth` is the model's [B, T, H, W] output, already PyTorch's layout.
  const tap = (key: string, t: tf.Tensor) => (key === 'depth' ? rec.tap(key, t) : tf.tidy(() => rec.tap(key, toTorchLayout(t))));
  const x = tf.tidy(() => tf.transpose(tf.reshape(tf.tensor(entryToFloat32(entry, reference.source)), [B * T, 3, H, W]), [0, 2, 3, 1])) as tf.Tensor4D;
  try {
    tf.dispose(vdaForward(w, cfg, x, T, tap));
    const captured = await rec.finish();
    const { comparisons, notComputed } = compareWithReference(captured, reference, ['input']);
    const missing = VDA_REQUIRED_KEYS.filter((k) => reference.tensors.has(k) && notComputed.includes(k));
    const ok = comparisons.length > 0 && comparisons.every((c) => c.ok) && missing.length === 0 && notComputed.length === 0;
    return { ok, comparisons, notComputed, computed: [...captured.values()] };
  } finally {
    x.dispose();
    rec.dispose();
    disposeVdaWeights(w);
  }
}
