/**
 * The `parity` command for Depth Anything 3 weights (dispatched from cli/parity), in Node on the
 * started backend (src/verify/da3_parity.ts). End to end where the case's config.json names its
 * PNG files (`inference.images`, `process_res`, `process_res_method`; known cameras from `extra`):
 * decoded as PIL opens them, preprocessed, run, and every recorded tensor compared — the net's, the
 * prediction's, the metric scaling's and (with export.safetensors beside the reference) the GLB
 * exporter's. `--from-input`, or a config without images: the net on the recorded `input` only.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { REF_VIEW_STRATEGIES, RefViewStrategy } from '../da3/reference_view_selector';
import { parseSafetensors, serializeSafetensors } from '../io/safetensors';
import { backendMemory } from '../backends/memory';
import { loadDa3WeightsFile } from '../node/da3_weights';
import { Da3ParityPipeline, formatDa3ParityReport, runDa3Parity } from '../verify/da3_parity';
import { mergeReferences } from '../verify/parity';
import { decodeImage } from '../node/image';
import { DA3_PROCESS_RES_METHODS, Da3ProcessResMethod, da3Preprocess } from '../pipeline/da3/preprocess';
import { entryToFloat32, ParsedSafetensors } from '../io/safetensors';
import { finishParity } from './common';

export interface Da3ParityCliOptions {
  weights: string;
  config?: string;
  reference: string[];
  json?: boolean;
  dump?: string;
  browser?: boolean;
  fromInput?: boolean;
}

interface CaseInference { images?: string[]; process_res?: number; process_res_method?: string }

/** The case's own run: its PNG files preprocessed as inference() does, and what the reference needs beside. */
async function pipelineFor(configFile: string, json: Record<string, unknown>, reference: ParsedSafetensors): Promise<Da3ParityPipeline | undefined> {
  const inf = json.inference as CaseInference | undefined;
  if (!inf?.images?.length) return undefined;
  const method = inf.process_res_method ?? 'upper_bound_resize';
  if (!DA3_PROCESS_RES_METHODS.includes(method as Da3ProcessResMethod)) throw new Error(`${configFile}: inference.process_res_method must be one of ${DA3_PROCESS_RES_METHODS.join(', ')}; got "${method}"`);
  const images = [];
  for (const f of inf.images) images.push(await decodeImage(path.join(path.dirname(configFile), f), f, { autoOrient: false }));
  const extra = (json.extra ?? {}) as { input_extrinsics_w2c?: number[][][]; input_intrinsics?: number[][][] };
  const cameras = extra.input_extrinsics_w2c || extra.input_intrinsics
    ? { ...(extra.input_extrinsics_w2c ? { extrinsics: extra.input_extrinsics_w2c } : {}), ...(extra.input_intrinsics ? { intrinsics: extra.input_intrinsics } : {}) }
    : undefined;
  const pre = da3Preprocess(images, { processRes: inf.process_res ?? 504, processResMethod: method as Da3ProcessResMethod }, cameras);
  const k = reference.tensors.get('metric.intrinsics');
  return { pre, ...(k ? { metricK: entryToFloat32(k, reference.source) } : {}), exportGlb: [...reference.tensors.keys()].some((key) => key.startsWith('glb.')) };
}

export async function da3ParityCommand(opts: Da3ParityCliOptions): Promise<void> {
  if (opts.browser) throw new Error('parity --browser does not run Depth Anything 3 weights yet; run it in Node (--backend wasm, cpu or webgpu)');
  if (opts.reference.length !== 1) throw new Error(`parity for Depth Anything 3 weights takes one --reference file; got ${opts.reference.length}`);
  const file = opts.reference[0];
  // The fixture's config.json sits beside its activations.
  const beside = path.join(path.dirname(file), 'config.json');
  const config = opts.config ?? ((await fs.stat(beside).catch(() => undefined))?.isFile() ? beside : undefined);
  const loaded = await loadDa3WeightsFile(opts.weights, { config });
  let refBytes: Buffer;
  try {
    refBytes = await fs.readFile(file);
  } catch (e) {
    throw new Error(`cannot read reference ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let reference = parseSafetensors(refBytes, file);
  // The GLB exporter's arrays sit beside the activations (export.safetensors) in any-view cases.
  const exportFile = path.join(path.dirname(file), 'export.safetensors');
  if (!opts.fromInput && path.resolve(exportFile) !== path.resolve(file)) {
    const bytes = await fs.readFile(exportFile).catch(() => undefined);
    if (bytes) reference = mergeReferences([reference, parseSafetensors(bytes, exportFile)]);
  }
  const pipeline = !opts.fromInput && loaded.configJson && config ? await pipelineFor(config, loaded.configJson, reference) : undefined;
  const wanted = (loaded.configJson?.inference as { ref_view_strategy?: string } | undefined)?.ref_view_strategy;
  if (wanted !== undefined && !REF_VIEW_STRATEGIES.includes(wanted as RefViewStrategy)) throw new Error(`${loaded.configFrom}: inference.ref_view_strategy must be one of ${REF_VIEW_STRATEGIES.join(', ')}; got "${wanted}"`);
  const before = backendMemory();
  const t0 = performance.now();
  const report = await runDa3Parity(loaded.stateDict, loaded.config, reference, loaded.source, (wanted as RefViewStrategy | undefined) ?? 'saddle_balanced', pipeline);
  const info = { backend: tf.getBackend(), place: 'node', ms: performance.now() - t0, memory: { before, after: backendMemory() }, configFrom: loaded.configFrom, endToEnd: Boolean(pipeline) };
  const dump = opts.dump ? serializeSafetensors(report.computed, { source: path.basename(opts.weights), reference: path.basename(file) }) : undefined;
  const { ok, comparisons, integers, notComputed } = report;
  await finishParity(opts, ok, { ok, comparisons, integers, notComputed, ...info }, formatDa3ParityReport(report), dump);
}
