/**
 * The `parity` command for Depth Anything 3 weights (dispatched from cli/parity): the net on the
 * reference's `input` (and known cameras), every recorded tensor of the net compared
 * (src/verify/da3_parity.ts), in Node on the started backend.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { REF_VIEW_STRATEGIES, RefViewStrategy } from '../da3/reference_view_selector';
import { parseSafetensors, serializeSafetensors } from '../io/safetensors';
import { backendMemory } from '../backends/memory';
import { loadDa3WeightsFile } from '../node/da3_weights';
import { formatDa3ParityReport, runDa3Parity } from '../verify/da3_parity';
import { finishParity } from './common';

export interface Da3ParityCliOptions {
  weights: string;
  config?: string;
  reference: string[];
  json?: boolean;
  dump?: string;
  browser?: boolean;
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
  const reference = parseSafetensors(refBytes, file);
  const wanted = (loaded.configJson?.inference as { ref_view_strategy?: string } | undefined)?.ref_view_strategy;
  if (wanted !== undefined && !REF_VIEW_STRATEGIES.includes(wanted as RefViewStrategy)) throw new Error(`${loaded.configFrom}: inference.ref_view_strategy must be one of ${REF_VIEW_STRATEGIES.join(', ')}; got "${wanted}"`);
  const before = backendMemory();
  const t0 = performance.now();
  const report = await runDa3Parity(loaded.stateDict, loaded.config, reference, loaded.source, (wanted as RefViewStrategy | undefined) ?? 'saddle_balanced');
  const info = { backend: tf.getBackend(), place: 'node', ms: performance.now() - t0, memory: { before, after: backendMemory() }, configFrom: loaded.configFrom };
  const dump = opts.dump ? serializeSafetensors(report.computed, { source: path.basename(opts.weights), reference: path.basename(file) }) : undefined;
  const { ok, comparisons, integers, notComputed } = report;
  await finishParity(opts, ok, { ok, comparisons, integers, notComputed, ...info }, formatDa3ParityReport(report), dump);
}
