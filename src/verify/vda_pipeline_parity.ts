/**
 * Parity of Video Depth Anything's pipelines against the fixtures (../shared/fixtures/vda): the
 * offline pipeline from the frames (`pipeline.safetensors`: frame 0's input, each window's slots
 * and model output, the alignment coefficients, the final depth) and the streaming mode
 * (`stream.safetensors`: every frame's depth, cache and cache choice, the temporal modules, the
 * last frame's module 1 inside). Tolerances of the fixtures README, unchanged.
 */
import * as tf from '@tensorflow/tfjs-core';
import { VdaConfig } from '../config/vda';
import { ParsedSafetensors, SafetensorsEntry, TensorToWrite, entryToFloat32 } from '../io/safetensors';
import { toNchw } from '../pipeline/preprocess';
import { RgbImage } from '../pipeline/rgb';
import { VdaSession } from '../pipeline/vda_session';
import { vdaPreprocess } from '../pipeline/vda_video';
import { StateDict } from '../weights/state_dict';
import { PARITY_TOLERANCE, TapRecorder, TensorComparison, compareArrays, toTorchLayout } from './compare';
import { VdaParityReport } from './vda_parity';

/** End to end (frames -> depth), per frame. */
export const END_TO_END_REL_L2 = 2e-5;
/** align.scale: relative error; align.shift: absolute error x max(1, |shift|). */
export const ALIGN_TOLERANCE = 1e-5;

function readInts(e: SafetensorsEntry): number[] {
  if (e.dtype !== 'I64') throw new Error(`${e.name}: int64 expected, got ${e.dtype}`);
  const dv = new DataView(e.bytes.buffer, e.bytes.byteOffset, e.bytes.byteLength);
  return Array.from({ length: e.bytes.byteLength / 8 }, (_, i) => Number(dv.getBigInt64(i * 8, true)));
}

/** Collects comparisons and the computed tensors (for --dump). */
class Checker {
  readonly comparisons: TensorComparison[] = [];
  readonly computed: TensorToWrite[] = [];
  readonly notComputed: string[] = [];
  readonly seen = new Set<string>();
  constructor(private readonly ref: ParsedSafetensors) {}

  private entry(key: string): SafetensorsEntry | undefined {
    this.seen.add(key);
    return this.ref.tensors.get(key);
  }

  /** The standard rule (relL2 <= 1e-5, maxAbs <= 1e-4 max(1, max|ref|)), or relL2 alone at `relL2`. */
  float(key: string, shape: number[], data: Float32Array, relL2Limit?: number): void {
    this.computed.push({ name: key, shape, data });
    const e = this.entry(key);
    if (!e) return;
    const same = e.shape.length === shape.length && e.shape.every((d, i) => d === shape[i]);
    if (!same) { this.comparisons.push({ key, shape, relL2: NaN, maxAbs: NaN, maxAbsLimit: 0, ok: false }); return; }
    const { relL2, maxAbs, refMax } = compareArrays(data, entryToFloat32(e, this.ref.source));
    const maxAbsLimit = relL2Limit === undefined ? PARITY_TOLERANCE.maxAbsFactor * Math.max(1, refMax) : Infinity;
    this.comparisons.push({ key, shape, relL2, maxAbs, maxAbsLimit, ok: relL2 <= (relL2Limit ?? PARITY_TOLERANCE.relL2) && maxAbs <= maxAbsLimit });
  }

  /** Integer tensors: exactly. */
  ints(key: string, values: number[]): void {
    const e = this.entry(key);
    if (!e) return;
    const ref = readInts(e);
    const bad = ref.length !== values.length ? ref.length : ref.filter((v, i) => v !== values[i]).length;
    this.comparisons.push({ key, shape: [values.length], relL2: bad, maxAbs: bad, maxAbsLimit: 0, ok: bad === 0 });
  }

  /** align.scale (relative) / align.shift (absolute x max(1, |v|)), per window. */
  align(key: string, values: number[], relative: boolean): void {
    const e = this.entry(key);
    this.computed.push({ name: key, shape: [values.length], data: Float32Array.from(values) });
    if (!e) return;
    const ref = entryToFloat32(e, this.ref.source);
    const errs = values.map((v, i) => Math.abs(v - ref[i]) / (relative ? Math.abs(ref[i]) : Math.max(1, Math.abs(ref[i]))));
    const worst = Math.max(0, ...errs);
    const ok = values.length === ref.length && worst <= ALIGN_TOLERANCE;
    this.comparisons.push({ key, shape: [values.length], relL2: worst, maxAbs: worst, maxAbsLimit: ALIGN_TOLERANCE, ok });
  }

  report(skip: RegExp[]): VdaParityReport {
    for (const k of this.ref.tensors.keys()) if (!this.seen.has(k) && !skip.some((r) => r.test(k))) this.notComputed.push(k);
    const ok = this.comparisons.length > 0 && this.comparisons.every((c) => c.ok) && this.notComputed.length === 0;
    return { ok, comparisons: this.comparisons, notComputed: this.notComputed, computed: this.computed };
  }
}

/** `infer_video_depth` on the frames, against `pipeline.safetensors`. */
export async function vdaVideoParity(sd: StateDict, cfg: VdaConfig, frames: RgbImage[], inputSize: number, reference: ParsedSafetensors, source: string): Promise<VdaParityReport> {
  const check = new Checker(reference);
  const session = new VdaSession(sd, cfg, source);
  const scales: number[] = [];
  const shifts: number[] = [];
  try {
    const p = session.videoPipeline({
      inputSize,
      record: {
        input0: (input) => check.float('input.0', [3, input.height, input.width], toNchw(input)),
        window: (k, ids, outputs, h, w) => {
          const all = new Float32Array(outputs.length * h * w);
          outputs.forEach((o, i) => all.set(o, i * h * w));
          check.ints(`window.${k}.frames`, ids);
          check.float(`window.${k}.output`, [1, outputs.length, h, w], all);
        },
        align: (_k, scale, shift) => { scales.push(scale); shifts.push(shift); },
      },
    });
    const depth = [];
    for (const f of frames) depth.push(...(await p.push(f)));
    depth.push(...(await p.finish()));
    if (scales.length) { check.align('align.scale', scales, true); check.align('align.shift', shifts, false); }
    const { width: W, height: H } = depth[0];
    const all = new Float32Array(depth.length * H * W);
    depth.forEach((d, i) => all.set(d.data, i * H * W));
    check.computed.push({ name: 'depth', shape: [depth.length, H, W], data: all });
    const e = reference.tensors.get('depth');
    check.seen.add('depth');
    if (e) {
      const ref = entryToFloat32(e, reference.source);
      if (e.shape[0] !== depth.length) check.comparisons.push({ key: 'depth', shape: [depth.length, H, W], relL2: NaN, maxAbs: NaN, maxAbsLimit: 0, ok: false });
      depth.forEach((d, i) => {
        const { relL2, maxAbs } = compareArrays(d.data, ref.subarray(i * H * W, (i + 1) * H * W));
        check.comparisons.push({ key: `depth[${i}]`, shape: [H, W], relL2, maxAbs, maxAbsLimit: Infinity, ok: relL2 <= END_TO_END_REL_L2 });
      });
    }
  } finally {
    session.dispose();
  }
  return check.report([/^align\.(scale|shift)_f64$/]);
}

/** `infer_video_depth_one` frame by frame from a fresh model, against `stream.safetensors`. */
export async function vdaStreamParity(sd: StateDict, cfg: VdaConfig, frames: RgbImage[], inputSize: number, reference: ParsedSafetensors, source: string): Promise<VdaParityReport> {
  const check = new Checker(reference);
  const session = new VdaSession(sd, cfg, source);
  try {
    const input = vdaPreprocess(frames[0], inputSize);
    check.float('frame.0.input', [1, 1, 3, input.height, input.width], toNchw(input));
    for (let i = 0; i < frames.length; i++) {
      const rec = new TapRecorder((t) => tf.clone(t));
      // The head's tensors of frame i, under `frame.i.` (the model's `depth` is `depth_net` here).
      const tap = (key: string, t: tf.Tensor) => { if (key.startsWith('head.')) tf.tidy(() => rec.tap(`frame.${i}.${key}`, toTorchLayout(t))); };
      try {
        const d = await session.streamFrame(frames[i], {
          inputSize, tap,
          onFrame: (info) => {
            check.float(`frame.${i}.depth_net`, [1, 1, info.netHeight, info.netWidth], info.depthNet);
            info.states.forEach((s, k) => check.float(`frame.${i}.cache.${k}`, s.shape, s.data));
            if (info.cacheIds) check.ints(`frame.${i}.cache_ids`, info.cacheIds);
          },
        });
        check.float(`frame.${i}.depth`, [d.height, d.width], d.data, END_TO_END_REL_L2);
        for (const [key, t] of await rec.finish()) if (reference.tensors.has(key)) check.float(key, t.shape, t.data as Float32Array);
      } finally {
        rec.dispose();
      }
    }
  } finally {
    session.dispose();
  }
  return check.report([]);
}
