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
import { BackendMemory, backendMemory } from '../backends/memory';
import { loadDa3WeightsFile } from '../node/da3_weights';
import { Da3CaseInference, Da3ParityPipeline, Da3ParityReport, da3CasePipeline, formatDa3ParityReport, runDa3Parity } from '../verify/da3_parity';
import { mergeReferences } from '../verify/parity';
import { decodeImage } from '../node/image';
import { ParsedSafetensors } from '../io/safetensors';
import { finishParity, readReferenceBytes } from './common';
import { ParityPageResult, runParityPage } from './parity_browser';

export interface Da3ParityCliOptions {
  weights: string;
  config?: string;
  reference: string[];
  json?: boolean;
  dump?: string;
  browser?: boolean;
  fromInput?: boolean;
  backend?: string;
  /** With browser: tfjs flags set before the backend starts. */
  flags?: Record<string, number | boolean>;
}

/** What the parity page returns for DA3 weights (src/verify/pages/parity_page.ts). */
interface Da3PageResult extends ParityPageResult {
  ok: boolean;
  comparisons: Da3ParityReport['comparisons'];
  integers: Da3ParityReport['integers'];
  notComputed: string[];
  endToEnd: boolean;
  memory: { before: BackendMemory; after: BackendMemory };
}

/** The case's PNG files (config.json `inference.images`), decoded as PIL opens them; none: run from `input`. */
async function pipelineFor(configFile: string, json: Record<string, unknown>, reference: ParsedSafetensors): Promise<Da3ParityPipeline | undefined> {
  const inf = json.inference as Da3CaseInference | undefined;
  if (!inf?.images?.length) return undefined;
  const images = [];
  for (const f of inf.images) images.push(await decodeImage(path.join(path.dirname(configFile), f), f, { autoOrient: false }));
  return da3CasePipeline(json, images, reference, configFile);
}

export async function da3ParityCommand(opts: Da3ParityCliOptions): Promise<void> {
  if (opts.reference.length !== 1) throw new Error(`parity for Depth Anything 3 weights takes one --reference file; got ${opts.reference.length}`);
  const file = opts.reference[0];
  // The fixture's config.json sits beside its activations.
  const beside = path.join(path.dirname(file), 'config.json');
  const config = opts.config ?? ((await fs.stat(beside).catch(() => undefined))?.isFile() ? beside : undefined);
  const loaded = await loadDa3WeightsFile(opts.weights, { config });
  let reference = parseSafetensors(await readReferenceBytes(file), file);
  // The GLB exporter's arrays sit beside the activations (export.safetensors) in any-view cases.
  const exportFile = path.join(path.dirname(file), 'export.safetensors');
  let withExport = false;
  if (!opts.fromInput && path.resolve(exportFile) !== path.resolve(file)) {
    const bytes = await fs.readFile(exportFile).catch(() => undefined);
    if (bytes) { reference = mergeReferences([reference, parseSafetensors(bytes, exportFile)]); withExport = true; }
  }
  const wanted = (loaded.configJson?.inference as { ref_view_strategy?: string } | undefined)?.ref_view_strategy;
  if (wanted !== undefined && !REF_VIEW_STRATEGIES.includes(wanted as RefViewStrategy)) throw new Error(`${loaded.configFrom}: inference.ref_view_strategy must be one of ${REF_VIEW_STRATEGIES.join(', ')}; got "${wanted}"`);
  const strategy = (wanted as RefViewStrategy | undefined) ?? 'saddle_balanced';
  if (opts.browser) {
    // The page decodes the PNG files itself (the browser's decoder) and runs the same comparison.
    const images = !opts.fromInput && loaded.configJson && config ? ((loaded.configJson.inference as Da3CaseInference | undefined)?.images ?? []).map((f) => path.join(path.dirname(config), f)) : [];
    const references = [file, ...(withExport ? [exportFile] : [])];
    const run = await runParityPage<Da3PageResult>({
      backend: opts.backend, flags: opts.flags, weights: opts.weights, references, inputs: images, dump: Boolean(opts.dump),
      args: (inputs) => ({ da3: { config: loaded.config, configJson: loaded.configJson ?? {}, configName: loaded.configFrom, images: inputs, strategy } }),
    });
    const r = run.result;
    const { ok, comparisons, integers, notComputed } = r;
    const info = { backend: r.backend, adapter: r.adapter, place: 'chromium', ms: r.ms, memory: r.memory, configFrom: loaded.configFrom, endToEnd: r.endToEnd };
    await finishParity(opts, ok, { ok, comparisons, integers, notComputed, ...info }, formatDa3ParityReport({ ok, comparisons, integers, notComputed, computed: [] }), run.dump);
    return;
  }
  const pipeline = !opts.fromInput && loaded.configJson && config ? await pipelineFor(config, loaded.configJson, reference) : undefined;
  const before = backendMemory();
  const t0 = performance.now();
  const report = await runDa3Parity(loaded.stateDict, loaded.config, reference, loaded.source, strategy, pipeline);
  const info = { backend: tf.getBackend(), place: 'node', ms: performance.now() - t0, memory: { before, after: backendMemory() }, configFrom: loaded.configFrom, endToEnd: Boolean(pipeline) };
  const dump = opts.dump ? serializeSafetensors(report.computed, { source: path.basename(opts.weights), reference: path.basename(file) }) : undefined;
  const { ok, comparisons, integers, notComputed } = report;
  await finishParity(opts, ok, { ok, comparisons, integers, notComputed, ...info }, formatDa3ParityReport(report), dump);
}
