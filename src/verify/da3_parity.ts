/**
 * Depth Anything 3 parity: the net run on a fixture's recorded `input` (and, with known cameras,
 * its preprocessed `preprocess.1` / `.2`, normalised as inference() does), every tensor the net
 * records compared with the shared rule (compare.ts), integer and mask tensors exactly. The
 * preprocessing (`input` from the PNGs) and the `prediction.*` / `metric.*` / export values are
 * not the net's and are left to their own checks.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Da3Config } from '../config/da3';
import { Da3Cameras, bindDa3Weights, da3Forward, disposeDa3Weights } from '../da3/da3';
import { RefViewStrategy } from '../da3/reference_view_selector';
import { normalizeExtrinsics } from '../da3/utils/transform';
import { ParsedSafetensors, TensorToWrite, entryToFloat32 } from '../io/safetensors';
import { StateDict } from '../weights/state_dict';
import { da3NormalizeExtrinsics } from '../pipeline/da3/cameras';
import { Da3NetOutput } from '../pipeline/da3/prediction';
import { DA3_PROCESS_RES_METHODS, Da3ProcessResMethod, Da3Preprocessed, da3Preprocess } from '../pipeline/da3/preprocess';
import { RgbImage } from '../pipeline/rgb';
import { PARITY_TOLERANCE, TapRecorder, TensorComparison, compareWithReference } from './compare';
import { da3PipelineTensors } from './da3_pipeline';
import { entryToNumbers } from './seg_parity';

/**
 * End to end: the views as this port preprocessed them from the case's PNG files (and cameras),
 * so the net runs on our `input`, and every pipeline tensor (prediction, metric, export) is
 * compared too. Without it the net runs on the recorded `input` and only its tensors are compared.
 */
export interface Da3ParityPipeline {
  pre: Da3Preprocessed;
  /** The K the reference scaled depth to metres with (`metric.intrinsics`), when it records `metric.depth`. */
  metricK?: Float32Array;
  /** Compute the GLB exporter's arrays (the reference has `glb.*`). */
  exportGlb?: boolean;
}

/** A case's `inference` block of config.json: the PNG files handed to `inference()` and its arguments. */
export interface Da3CaseInference { images?: string[]; process_res?: number; process_res_method?: string }

/**
 * The case's own run from its decoded views (in the order of `inference.images`): preprocessed as
 * inference() does (known cameras from `extra`), and what the reference needs beside. Platform-free:
 * Node decodes the PNGs with sharp, a page with the browser's decoder (cli/parity_da3.ts, pages/parity_page.ts).
 */
export function da3CasePipeline(json: Record<string, unknown>, images: readonly RgbImage[], reference: ParsedSafetensors, configFile: string): Da3ParityPipeline {
  const inf = (json.inference ?? {}) as Da3CaseInference;
  const method = inf.process_res_method ?? 'upper_bound_resize';
  if (!DA3_PROCESS_RES_METHODS.includes(method as Da3ProcessResMethod)) throw new Error(`${configFile}: inference.process_res_method must be one of ${DA3_PROCESS_RES_METHODS.join(', ')}; got "${method}"`);
  const extra = (json.extra ?? {}) as { input_extrinsics_w2c?: number[][][]; input_intrinsics?: number[][][] };
  const cameras = extra.input_extrinsics_w2c || extra.input_intrinsics
    ? { ...(extra.input_extrinsics_w2c ? { extrinsics: extra.input_extrinsics_w2c } : {}), ...(extra.input_intrinsics ? { intrinsics: extra.input_intrinsics } : {}) }
    : undefined;
  const pre = da3Preprocess(images, { processRes: inf.process_res ?? 504, processResMethod: method as Da3ProcessResMethod }, cameras);
  const k = reference.tensors.get('metric.intrinsics');
  return { pre, ...(k ? { metricK: entryToFloat32(k, reference.source) } : {}), exportGlb: [...reference.tensors.keys()].some((key) => key.startsWith('glb.')) };
}

/** Recorded values outside the network (the da3-io side: preprocessing, prediction, metric scaling, export, pose alignment). */
const OUTSIDE_THE_NET = /^(input$|prediction\.|metric\.|preprocess\.|glb\.|align_poses_umeyama)/;
/** The net's outputs: a run that computes none of these has compared nothing that matters. */
export const DA3_REQUIRED_KEYS: readonly string[] = ['model.depth', 'model.depth_conf', 'model.extrinsics', 'model.intrinsics', 'model.sky', 'model.head.ray'];

export interface IntegerComparison {
  key: string;
  shape: number[];
  /** Values that differ (0: equal). NaN when the shapes differ. */
  differing: number;
  ok: boolean;
}

export interface Da3ParityReport {
  comparisons: TensorComparison[];
  integers: IntegerComparison[];
  notComputed: string[];
  ok: boolean;
  computed: TensorToWrite[];
}

/** The known cameras a reference records (`preprocess.1` world-to-camera, `preprocess.2` K), normalised; none when absent. */
export function referenceCameras(reference: ParsedSafetensors, views: number): { cameras: Da3Cameras; normalized: Float32Array } | undefined {
  const e = reference.tensors.get('preprocess.1');
  const k = reference.tensors.get('preprocess.2');
  if (!e || !k) return undefined;
  const ext = entryToFloat32(e, reference.source);
  const per = ext.length / views;
  const ext4 = new Float64Array(views * 16);
  for (let v = 0; v < views; v++) {
    for (let i = 0; i < 16; i++) ext4[v * 16 + i] = i < per ? ext[v * per + i] : (i === 15 ? 1 : 0);
  }
  const normalized = Float32Array.from(normalizeExtrinsics(ext4, views));
  return { cameras: { extrinsics: normalized, intrinsics: entryToFloat32(k, reference.source) }, normalized };
}

export async function runDa3Parity(stateDict: StateDict, cfg: Da3Config, reference: ParsedSafetensors, source: string, strategy: RefViewStrategy = 'saddle_balanced', pipeline?: Da3ParityPipeline): Promise<Da3ParityReport> {
  const inputEntry = reference.tensors.get('input');
  if (!inputEntry) throw new Error(`${reference.source}: the reference has no "input" tensor`);
  if (inputEntry.shape.length !== 5 || inputEntry.shape[0] !== 1 || inputEntry.shape[2] !== 3) {
    throw new Error(`${reference.source}: "input" must be [1, N, 3, H, W]; got [${inputEntry.shape.join(', ')}]`);
  }
  const pre = pipeline?.pre;
  const views = pre ? pre.views : inputEntry.shape[1];
  let known: { cameras: Da3Cameras; normalized: Float32Array } | undefined;
  if (pre) {
    if (pre.extrinsics && pre.intrinsics) {
      const normalized = da3NormalizeExtrinsics(pre.extrinsics, views);
      known = { cameras: { extrinsics: normalized, intrinsics: pre.intrinsics }, normalized };
    }
  } else {
    known = referenceCameras(reference, views);
  }
  const w = bindDa3Weights(stateDict, cfg, source);
  // Taps arrive in PyTorch layouts already (src/da3 transposes its maps), so the recorder only copies.
  const rec = new TapRecorder((t) => tf.clone(t));
  const input = pre
    ? tf.tensor(pre.input, [1, views, 3, pre.height, pre.width])
    : tf.tensor(entryToFloat32(inputEntry, reference.source), inputEntry.shape);
  try {
    if (known && !pre) rec.tap('extrinsics_normalized', tf.tensor(known.normalized, [1, views, 4, 4]));
    const out = da3Forward(w, cfg, input, { cameras: known?.cameras, refViewStrategy: strategy, tap: rec.tap });
    let net: Da3NetOutput | undefined;
    try {
      if (pre) {
        const read = async (t: tf.Tensor | undefined) => (t ? (await t.data()) as Float32Array : null);
        net = { depth: (await read(out.depth))!, depthConf: await read(out.depthConf), extrinsics: await read(out.extrinsics), intrinsics: await read(out.intrinsics), sky: await read(out.sky) };
      }
    } finally {
      tf.dispose(out as unknown as tf.TensorContainer);
    }
    const captured = await rec.finish();
    const exact = new Map<string, { shape: number[]; data: ArrayLike<number> }>();
    if (pre && net) {
      const p = da3PipelineTensors({ pre, net, metricK: pipeline?.metricK, exportGlb: pipeline?.exportGlb });
      for (const [k, t] of p.float) captured.set(k, t);
      for (const [k, t] of p.exact) exact.set(k, t);
    }
    // End to end every recorded tensor is ours to compute; from `input`, the pipeline's are not.
    // (`metric.intrinsics` is the K the metric rule was given, an input like `input` itself.)
    const skip = pre ? ['metric.intrinsics'].filter((k) => reference.tensors.has(k)) : [...reference.tensors.keys()].filter((k) => OUTSIDE_THE_NET.test(k));
    const { comparisons, notComputed } = compareWithReference(captured, reference, skip);
    const integers: IntegerComparison[] = [];
    for (const [key, entry] of reference.tensors) {
      if (skip.includes(key) || ['F32', 'F16', 'BF16', 'F64'].includes(entry.dtype)) continue;
      const mine = captured.get(key) ?? exact.get(key);
      if (!mine) { notComputed.push(key); continue; }
      const same = mine.shape.length === entry.shape.length && mine.shape.every((d, i) => d === entry.shape[i]);
      const ref = entryToNumbers(entry);
      const differing = same ? ref.reduce((n, v, i) => n + (mine.data[i] === v ? 0 : 1), 0) : NaN;
      integers.push({ key, shape: mine.shape, differing, ok: differing === 0 });
    }
    const missingRequired = DA3_REQUIRED_KEYS.filter((k) => reference.tensors.has(k) && notComputed.includes(k));
    const ok = comparisons.length > 0 && comparisons.every((c) => c.ok) && integers.every((c) => c.ok) && missingRequired.length === 0;
    const computed: TensorToWrite[] = [...captured.values(), ...[...exact].filter(([name]) => !captured.has(name)).map(([name, t]) => ({ name, shape: t.shape, data: Float32Array.from(t.data) }))];
    return { comparisons, integers, notComputed, ok, computed };
  } finally {
    input.dispose();
    rec.dispose();
    disposeDa3Weights(w);
  }
}

/** One line per tensor, then a summary (the `parity` command's text for DA3 weights). */
export function formatDa3ParityReport(report: Da3ParityReport): string {
  const all = [...report.comparisons.map((c) => c.key), ...report.integers.map((c) => c.key)];
  const width = Math.max(...all.map((k) => k.length), 10);
  const lines = report.comparisons.map((c) => {
    const status = c.ok ? 'ok' : Number.isNaN(c.relL2) ? 'FAIL (shape or NaN)' : 'FAIL';
    return `${c.key.padEnd(width)}  ${`[${c.shape.join(', ')}]`.padEnd(22)}  relL2 ${c.relL2.toExponential(2)}  maxAbs ${c.maxAbs.toExponential(2)} (limit ${c.maxAbsLimit.toExponential(1)})  ${status}`;
  });
  for (const c of report.integers) lines.push(`${c.key.padEnd(width)}  ${`[${c.shape.join(', ')}]`.padEnd(22)}  integers: ${Number.isNaN(c.differing) ? 'shape differs' : `${c.differing} differ`}  ${c.ok ? 'ok' : 'FAIL'}`);
  if (report.notComputed.length) lines.push(`not computed (${report.notComputed.length}): ${report.notComputed.join(', ')}`);
  const failed = report.comparisons.filter((c) => !c.ok).length + report.integers.filter((c) => !c.ok).length;
  const worst = report.comparisons.reduce<TensorComparison | undefined>((a, c) => (!a || c.relL2 > a.relL2 ? c : a), undefined);
  const total = report.comparisons.length + report.integers.length;
  lines.push(`${total - failed} of ${total} tensors within tolerance (relL2 <= ${PARITY_TOLERANCE.relL2}, maxAbs <= ${PARITY_TOLERANCE.maxAbsFactor} x max(1, max|ref|); integers exactly); worst relL2 ${worst ? `${worst.relL2.toExponential(2)} at ${worst.key}` : 'n/a'}: ${report.ok ? 'PASS' : 'FAIL'}`);
  return lines.join('\n');
}
