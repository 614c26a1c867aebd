/**
 * Layer-by-layer comparison against a reference recorded from the official PyTorch code: the
 * fixtures' `activations.safetensors` format (module path -> output, `input` -> network input,
 * PyTorch layouts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig } from '../config/depth';
import { DepthAnythingWeights, bindWeights, disposeWeights, forward } from '../depth/depth_anything';
import { ParsedSafetensors, entryToFloat32, TensorToWrite } from '../io/safetensors';
import { PARITY_TOLERANCE, TapRecorder, TensorComparison, compareWithReference, toTorchLayout } from './compare';

import { zoeParity } from './zoedepth_parity';
import { StateDict } from '../weights/state_dict';
import { configFromMetadata } from '../weights/safetensors_weights';

/** Tensors every parity run must compare when the reference records them (the main seams). */
export const REQUIRED_KEYS: readonly string[] = [
  'output', 'pretrained.pos_embed_interp', 'pretrained.tokens',
  'depth_head.scratch.output_conv1', 'depth_head.scratch.output_conv2.2',
];

export interface ParityReport {
  comparisons: TensorComparison[];
  /** Float tensors of the reference (other than `input`) that this model does not compute. */
  notComputed: string[];
  ok: boolean;
  /** Everything computed, under the reference's names, in PyTorch layouts ([B, C, H, W] maps). */
  computed: TensorToWrite[];
}

/**
 * Runs the model on the reference's `input` and compares every recorded tensor it computes.
 * V1 metric (ZoeDepth) models take the RGB `image` in [0, 1] instead (see src/verify/zoedepth_parity.ts).
 */
export async function runParity(w: DepthAnythingWeights, cfg: ModelConfig, reference: ParsedSafetensors): Promise<ParityReport> {
  const inputKey = cfg.zoe ? 'image' : 'input';
  const inputEntry = reference.tensors.get(inputKey);
  if (!inputEntry) throw new Error(`${reference.source}: the reference has no "${inputKey}" tensor`);
  if (inputEntry.shape.length !== 4 || inputEntry.shape[1] !== 3) {
    throw new Error(`${reference.source}: "${inputKey}" must be [B, 3, H, W]; got [${inputEntry.shape.join(', ')}]`);
  }
  // Taps are copied out as they come (wasm/cpu) or read after the pass (GPU): see TapRecorder.
  const rec = new TapRecorder(toTorchLayout);
  const tap = rec.tap;
  const input = tf.tidy(() => tf.transpose(tf.tensor4d(entryToFloat32(inputEntry, reference.source), inputEntry.shape as [number, number, number, number]), [0, 2, 3, 1])) as tf.Tensor4D;
  try {
    if (cfg.zoe) zoeParity(w, cfg, input, reference, tap);
    else tf.dispose(forward(w, cfg, input, tap));
    const captured = await rec.finish();
    const { comparisons, notComputed } = compareWithReference(captured, reference, [inputKey]);
    const computed = [...captured.values()];
    const missingRequired = REQUIRED_KEYS.filter((k) => reference.tensors.has(k) && notComputed.includes(k));
    const ok = comparisons.length > 0 && comparisons.every((c) => c.ok) && missingRequired.length === 0;
    return { comparisons, notComputed, ok, computed };
  } finally {
    input.dispose();
    rec.dispose();
  }
}

/** One reference from several files (a key in more than one keeps the first file's tensor). */
export function mergeReferences(refs: ParsedSafetensors[]): ParsedSafetensors {
  if (refs.length === 1) return refs[0];
  const tensors = new Map(refs[0].tensors);
  for (const r of refs.slice(1)) for (const [k, v] of r.tensors) if (!tensors.has(k)) tensors.set(k, v);
  return { ...refs[0], source: refs.map((r) => r.source).join(' + '), tensors };
}

/**
 * The `parity` command's computation from data in memory (no file access): the CLI in Node and the
 * page that `parity --browser` runs in Chromium both call this, so every model kind it handles
 * runs in both. `config` undefined: the one the reference's metadata records.
 */
export async function parityFromStateDict(stateDict: StateDict, config: ModelConfig | undefined, reference: ParsedSafetensors, source: string): Promise<ParityReport> {
  const cfg = config ?? configFromMetadata(reference);
  if (!cfg) throw new Error(`no model configuration: ${source} and ${reference.source} carry none; pass --config FILE`);
  const w = bindWeights(stateDict, cfg, source);
  try {
    return await runParity(w, cfg, reference);
  } finally {
    disposeWeights(w);
  }
}

/** One line per tensor, then a summary (the `parity` command's output). */
export function formatParityReport(report: ParityReport): string {
  const width = Math.max(...report.comparisons.map((c) => c.key.length), 10);
  const lines = report.comparisons.map((c) => {
    const shape = `[${c.shape.join(', ')}]`;
    const status = c.ok ? 'ok' : Number.isNaN(c.relL2) ? 'FAIL (shape or NaN)' : 'FAIL';
    return `${c.key.padEnd(width)}  ${shape.padEnd(20)}  relL2 ${c.relL2.toExponential(2)}  maxAbs ${c.maxAbs.toExponential(2)} (limit ${c.maxAbsLimit.toExponential(1)})  ${status}`;
  });
  const failed = report.comparisons.filter((c) => !c.ok).length;
  const worst = report.comparisons.reduce((a, c) => (c.relL2 > a.relL2 ? c : a), report.comparisons[0]);
  if (report.notComputed.length) lines.push(`not computed by this model (${report.notComputed.length}): ${report.notComputed.join(', ')}`);
  lines.push(`${report.comparisons.length - failed} of ${report.comparisons.length} tensors within tolerance (relL2 <= ${PARITY_TOLERANCE.relL2}, maxAbs <= ${PARITY_TOLERANCE.maxAbsFactor} x max(1, max|ref|)); worst relL2 ${worst ? `${worst.relL2.toExponential(2)} at ${worst.key}` : 'n/a'}: ${report.ok ? 'PASS' : 'FAIL'}`);
  return lines.join('\n');
}
