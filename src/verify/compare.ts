/**
 * What every parity check shares (depth, ZoeDepth, segmentation; in Node and in the Chromium
 * page): the tolerance rule, the comparison of two arrays, the recorder of tapped tensors, and
 * the comparison of everything recorded against a reference file.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ParsedSafetensors, TensorToWrite, entryToFloat32 } from '../io/safetensors';

/** Tolerances of the fixtures README: float32 vs float64 of the same code differs by 1e-6..3e-6. */
export const PARITY_TOLERANCE = { relL2: 1e-5, maxAbsFactor: 1e-4 } as const;

export interface TensorComparison {
  key: string;
  shape: number[];
  relL2: number;
  maxAbs: number;
  /** max abs error allowed: maxAbsFactor * max(1, max|ref|). */
  maxAbsLimit: number;
  ok: boolean;
}

/** NHWC maps -> NCHW; tokens [B, N, C], vectors and the [B, H, W] output stay as they are. */
export function toTorchLayout(t: tf.Tensor): tf.Tensor {
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
 * Records tapped tensors under their reference names. Copies are read out to JS memory at once
 * (keeping a full-size pass's ~150 intermediates on the backend would overflow the wasm heap);
 * GPU backends cannot read synchronously everywhere (tfjs-webgpu's readSync needs OffscreenCanvas,
 * which Node lacks; webgl's blocks on the GPU), so there the copies stay on the device until the
 * pass ends and `finish` reads them one by one (a full-size pass keeps ~100 MB of them).
 */
export class TapRecorder {
  readonly captured = new Map<string, TensorToWrite>();
  private readonly pending = new Map<string, tf.Tensor>();
  readonly readLater = ['webgpu', 'webgl'].includes(tf.getBackend());

  constructor(private readonly toTorch: (t: tf.Tensor) => tf.Tensor) {}

  /** The tap to hand to a forward pass: the first tensor under each key is kept. */
  readonly tap = (key: string, t: tf.Tensor): void => {
    if (this.captured.has(key) || this.pending.has(key)) return;
    const torch = this.toTorch(t);
    if (this.readLater) { this.pending.set(key, tf.keep(torch)); return; }
    this.captured.set(key, { name: key, shape: torch.shape, data: torch.dataSync() as Float32Array });
    torch.dispose();
  };

  /** Reads what is still on the device; returns everything recorded. */
  async finish(): Promise<Map<string, TensorToWrite>> {
    for (const [key, t] of this.pending) {
      this.captured.set(key, { name: key, shape: t.shape, data: (await t.data()) as Float32Array });
      t.dispose();
      this.pending.delete(key);
    }
    return this.captured;
  }

  /** Frees what a failed pass left on the device. */
  dispose(): void {
    tf.dispose([...this.pending.values()]);
    this.pending.clear();
  }
}

/** Every float tensor of the reference (but `skip`) against ours: shape, then the tolerance rule. */
export function compareWithReference(ours: Map<string, TensorToWrite>, reference: ParsedSafetensors, skip: readonly string[]): { comparisons: TensorComparison[]; notComputed: string[] } {
  const comparisons: TensorComparison[] = [];
  const notComputed: string[] = [];
  for (const [key, entry] of reference.tensors) {
    if (skip.includes(key) || !['F32', 'F16', 'BF16', 'F64'].includes(entry.dtype)) continue;
    const mine = ours.get(key);
    if (!mine) { notComputed.push(key); continue; }
    const sameShape = mine.shape.length === entry.shape.length && mine.shape.every((d, i) => d === entry.shape[i]);
    if (!sameShape) {
      comparisons.push({ key, shape: mine.shape, relL2: NaN, maxAbs: NaN, maxAbsLimit: 0, ok: false });
      continue;
    }
    const { relL2, maxAbs, refMax } = compareArrays(mine.data as Float32Array, entryToFloat32(entry, reference.source));
    const maxAbsLimit = PARITY_TOLERANCE.maxAbsFactor * Math.max(1, refMax);
    comparisons.push({ key, shape: mine.shape, relL2, maxAbs, maxAbsLimit, ok: relL2 <= PARITY_TOLERANCE.relL2 && maxAbs <= maxAbsLimit });
  }
  return { comparisons, notComputed };
}
