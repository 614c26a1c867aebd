/**
 * The `parity` command for segmentation weights (dispatched from cli/parity): in Node on the
 * started backend, or with --browser in headless Chromium (the parity page's seg branch). Kept
 * apart from ./parity.ts, which the browser page bundles.
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { parseSafetensors, serializeSafetensors } from '../io/safetensors';
import { finishParity, readReferenceBytes } from './common';
import { sniffWeightsFile } from '../node/weights_file';
import { backendMemory } from '../backends/memory';
import { describeAdapter } from '../backends/adapter';
import { StateDict } from '../weights/state_dict';
import { SegConfig } from '../config/semseg';
import { loadSegWeightsFile } from '../node/seg_weights';
import { SegPageResult, SegParityReport, SegParityRunInfo, formatSegParityReport, segParityFromStateDict } from '../verify/seg_parity';

export interface SegParityCliOptions {
  weights: string;
  config?: string;
  reference: string;
  json?: boolean;
  dump?: string;
  /** Run the comparison in headless Chromium (the parity page's seg branch) on `backend`. */
  browser?: boolean;
  backend?: string;
  /** With browser: tfjs flags set before the backend starts. */
  flags?: Record<string, number | boolean>;
}

/**
 * --browser for segmentation weights: the page gets the weights as safetensors (the file itself
 * when it is one, else the state dict Node read from the .pth, written as float32 safetensors to
 * a temporary file), the reference file and the configuration Node resolved.
 */
async function segParityInBrowser(opts: SegParityCliOptions, cfg: SegConfig, stateDict: StateDict, isSafetensors: boolean): Promise<{ report: SegPageResult; dump?: Buffer }> {
  const { runPageInChromium } = await import('../verify/browser_run');
  const backend = !opts.backend || opts.backend === 'auto' ? 'webgl' : opts.backend;
  if (!['webgl', 'webgpu', 'cpu'].includes(backend)) throw new Error(`--browser runs webgl, webgpu or cpu in Chromium; "${backend}" is a Node backend`);
  let weightsFile = opts.weights;
  let tmp: string | undefined;
  if (!isSafetensors) {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'depth-anything-segparity-'));
    weightsFile = path.join(tmp, 'weights.safetensors');
    await fs.writeFile(weightsFile, serializeSafetensors([...stateDict].map(([name, t]) => ({ name, shape: t.shape, data: t.data }))));
  }
  try {
    const run = await runPageInChromium<SegPageResult>('parity_page', {
      files: { weights: weightsFile, reference0: opts.reference },
      webgpu: backend === 'webgpu',
      args: {
        backend, flags: opts.flags ?? {}, weightsUrl: '/files/weights', weightsName: path.basename(opts.weights),
        references: [{ url: '/files/reference0', name: path.basename(opts.reference) }], seg: cfg, dump: Boolean(opts.dump),
      },
    });
    const r = run.result;
    process.stderr.write(`backend: ${r.backend}${r.adapter ? ` (${describeAdapter(r.adapter)})` : ''} in ${run.chromium}, headless\n`);
    return { report: r, ...(run.bytes ? { dump: run.bytes } : {}) };
  } finally {
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  }
}

/** The `parity` command for segmentation weights (dispatched from cli/parity). */
export async function segParityCommand(opts: SegParityCliOptions): Promise<void> {
  const loaded = await loadSegWeightsFile(opts.weights, { config: opts.config });
  const refBytes = await readReferenceBytes(opts.reference);
  let report: Pick<SegParityReport, 'ok' | 'comparisons' | 'notComputed' | 'masks' | 'labels' | 'boxes'>;
  let info: SegParityRunInfo;
  let dump: Uint8Array | undefined;
  if (opts.browser) {
    // The page parses the reference itself; parse it here too, so a bad file is one line in Node.
    parseSafetensors(refBytes, opts.reference);
    const isSafetensors = (await sniffWeightsFile(opts.weights)) === 'safetensors';
    const r = await segParityInBrowser(opts, loaded.config, loaded.stateDict, isSafetensors);
    const { ok, comparisons, notComputed, masks, labels, boxes, backend, place, ms, memory, adapter } = r.report;
    report = { ok, comparisons, notComputed, masks, labels, boxes };
    info = { backend, place, ms, memory, ...(adapter ? { adapter } : {}) };
    dump = r.dump;
  } else {
    const reference = parseSafetensors(refBytes, opts.reference);
    const before = backendMemory();
    const t0 = performance.now();
    const full = await segParityFromStateDict(loaded.stateDict, loaded.config, reference, loaded.source);
    info = { backend: tf.getBackend(), place: 'node', ms: performance.now() - t0, memory: { before, after: backendMemory() } };
    report = full;
    if (opts.dump) dump = serializeSafetensors(full.computed, { source: path.basename(opts.weights), reference: path.basename(opts.reference) });
  }
  const { ok, comparisons, notComputed, masks, labels, boxes } = report;
  await finishParity(opts, ok, { ok, comparisons, notComputed, masks, labels, boxes, ...info }, formatSegParityReport({ ...report, computed: [] }), dump);
}

