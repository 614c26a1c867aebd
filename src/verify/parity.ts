/**
 * Layer-by-layer comparison against a reference recorded from the official PyTorch code: the
 * fixtures' `activations.safetensors` format (module path -> output, `input` -> network input,
 * PyTorch layouts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig } from '../config/depth';
import { DepthAnythingWeights, bindWeights, disposeWeights, forward } from '../depth/depth_anything';
import { ParsedSafetensors, entryToFloat32, TensorToWrite } from '../io/safetensors';
import { zoeParity } from './zoedepth_parity';
import { StateDict } from '../weights/state_dict';
import { configFromMetadata } from '../weights/safetensors_weights';

/** Tolerances of the fixtures README: float32 vs float64 of the same code differs by 1e-6..3e-6. */
export const PARITY_TOLERANCE = { relL2: 1e-5, maxAbsFactor: 1e-4 } as const;

/** Tensors every parity run must compare when the reference records them (the main seams). */
export const REQUIRED_KEYS: readonly string[] = [
  'output', 'pretrained.pos_embed_interp', 'pretrained.tokens',
  'depth_head.scratch.output_conv1', 'depth_head.scratch.output_conv2.2',
];

export interface TensorComparison {
  key: string;
  shape: number[];
  relL2: number;
  maxAbs: number;
  /** max abs error allowed: maxAbsFactor * max(1, max|ref|). */
  maxAbsLimit: number;
  ok: boolean;
}

export interface ParityReport {
  comparisons: TensorComparison[];
  /** Float tensors of the reference (other than `input`) that this model does not compute. */
  notComputed: string[];
  ok: boolean;
  /** Everything computed, under the reference's names, in PyTorch layouts ([B, C, H, W] maps). */
  computed: TensorToWrite[];
}

/** NHWC maps -> NCHW; tokens [B, N, C], vectors and the [B, H, W] output stay as they are. */
function toTorchLayout(t: tf.Tensor): tf.Tensor {
  return t.rank === 4 ? tf.transpose(t, [0, 3, 1, 2]) : tf.clone(t);
}

export function compareArrays(ours: Float32Array, ref: Float32Array): { relL2: number; maxAbs: number; refMax: number } {
  let diff2 = 0;
  let ref2 = 0;
  let maxAbs = 0;
  let refMax = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = ours[i] - ref[i];
    diff2 += d * d;
    ref2 += ref[i] * ref[i];
    maxAbs = Math.max(maxAbs, Math.abs(d));
    refMax = Math.max(refMax, Math.abs(ref[i]));
  }
  if (Number.isNaN(diff2)) return { relL2: NaN, maxAbs: NaN, refMax };
  return { relL2: ref2 > 0 ? Math.sqrt(diff2 / ref2) : Math.sqrt(diff2), maxAbs, refMax };
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
  // Captured tensors are copied out to JS memory at once: keeping a full-size pass's ~150
  // intermediates on the backend would overflow the wasm heap.
  // GPU backends cannot read synchronously everywhere (tfjs-webgpu's readSync needs
  // OffscreenCanvas, which Node lacks): there the copies stay on the device until the pass ends,
  // then are read asynchronously one by one (a full-size pass keeps ~100 MB of them).
  const captured = new Map<string, TensorToWrite>();
  const pending = new Map<string, tf.Tensor>();
  const readLater = ['webgpu', 'webgl'].includes(tf.getBackend());
  const tap = (key: string, t: tf.Tensor) => {
    if (captured.has(key) || pending.has(key)) return;
    const torch = toTorchLayout(t);
    if (readLater) { pending.set(key, tf.keep(torch)); return; }
    captured.set(key, { name: key, shape: torch.shape, data: torch.dataSync() as Float32Array });
    torch.dispose();
  };
  const input = tf.tidy(() => tf.transpose(tf.tensor4d(entryToFloat32(inputEntry, reference.source), inputEntry.shape as [number, number, number, number]), [0, 2, 3, 1])) as tf.Tensor4D;
  try {
    if (cfg.zoe) zoeParity(w, cfg, input, reference, tap);
    else tf.dispose(forward(w, cfg, input, tap));
    for (const [key, t] of pending) {
      captured.set(key, { name: key, shape: t.shape, data: (await t.data()) as Float32Array });
      t.dispose();
      pending.delete(key);
    }
    const comparisons: TensorComparison[] = [];
    const notComputed: string[] = [];
    const computed = [...captured.values()];
    const byName = captured;
    for (const [key, entry] of reference.tensors) {
      if (key === inputKey || !['F32', 'F16', 'BF16', 'F64'].includes(entry.dtype)) continue;
      const ours = byName.get(key);
      if (!ours) { notComputed.push(key); continue; }
      const sameShape = ours.shape.length === entry.shape.length && ours.shape.every((d, i) => d === entry.shape[i]);
      if (!sameShape) {
        comparisons.push({ key, shape: ours.shape, relL2: NaN, maxAbs: NaN, maxAbsLimit: 0, ok: false });
        continue;
      }
      const { relL2, maxAbs, refMax } = compareArrays(ours.data, entryToFloat32(entry, reference.source));
      const maxAbsLimit = PARITY_TOLERANCE.maxAbsFactor * Math.max(1, refMax);
      comparisons.push({ key, shape: ours.shape, relL2, maxAbs, maxAbsLimit, ok: relL2 <= PARITY_TOLERANCE.relL2 && maxAbs <= maxAbsLimit });
    }
    const missingRequired = REQUIRED_KEYS.filter((k) => reference.tensors.has(k) && notComputed.includes(k));
    const ok = comparisons.length > 0 && comparisons.every((c) => c.ok) && missingRequired.length === 0;
    return { comparisons, notComputed, ok, computed };
  } finally {
    input.dispose();
    tf.dispose([...pending.values()]);
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
