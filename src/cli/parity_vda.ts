/**
 * The `parity` command for Video Depth Anything weights (dispatched from cli/parity): the reference
 * says the case: `activations.safetensors` (the model on one window, layer by layer),
 * `pipeline.safetensors` (the offline pipeline from the frames), `stream.safetensors` (streaming).
 * The frames are the PNGs of `frames/` beside the reference; the configuration the fixture's
 * `config.json` beside it (or --config).
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { VdaConfig, vdaConfigFromJson } from '../config/vda';
import { ParsedSafetensors, parseSafetensors, serializeSafetensors } from '../io/safetensors';
import { decodeImage } from '../node/image';
import { LoadedWeights } from '../node/weights_file';
import { RgbImage } from '../pipeline/rgb';
import { formatParityReport } from '../verify/parity';
import { VdaParityReport, vdaModelParity } from '../verify/vda_parity';
import { BackendMemory } from '../backends/memory';
import { vdaStreamParity, vdaVideoParity } from '../verify/vda_pipeline_parity';
import { resolveVdaConfig } from '../weights/vda_detect';
import { finishParity, readReferenceBytes } from './common';
import { ParityPageResult, runParityPage } from './parity_browser';

export interface VdaParityOptions {
  weights: string;
  config?: string;
  reference: string[];
  json?: boolean;
  dump?: string;
  browser?: boolean;
  inputSize?: number;
  frames?: string;
  backend?: string;
  /** With browser: tfjs flags set before the backend starts. */
  flags?: Record<string, number | boolean>;
}

/** What the parity page returns for VDA weights (src/verify/pages/parity_page.ts). */
interface VdaPageResult extends ParityPageResult {
  ok: boolean;
  comparisons: VdaParityReport['comparisons'];
  notComputed: string[];
  memory: { before: BackendMemory; after: BackendMemory };
}

async function readJson(file: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`cannot read config ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** The PNG frames of a folder, in name order. */
async function frameFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((n) => /\.png$/i.test(n)).sort();
  } catch (e) {
    throw new Error(`cannot read the frames folder ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (pass --frames DIR)`);
  }
  if (!names.length) throw new Error(`${dir}: no PNG frames`);
  return names.map((n) => path.join(dir, n));
}

async function readFrames(dir: string): Promise<RgbImage[]> {
  const frames: RgbImage[] = [];
  for (const f of await frameFiles(dir)) frames.push(await decodeImage(f));
  return frames;
}

export type VdaCaseKind = 'model' | 'video' | 'stream';

export function vdaCaseKind(ref: ParsedSafetensors): VdaCaseKind {
  if (ref.tensors.has('window.0.output')) return 'video';
  if (ref.tensors.has('frame.0.depth')) return 'stream';
  if (ref.tensors.has('input') && ref.tensors.has('depth')) return 'model';
  throw new Error(`${ref.source}: not a Video Depth Anything reference (no input + depth, window.0.output or frame.0.depth)`);
}

export async function vdaParityCommand(opts: VdaParityOptions, loaded: LoadedWeights): Promise<void> {
  if (opts.reference.length !== 1) throw new Error(`parity for Video Depth Anything weights takes one --reference file; got ${opts.reference.length}`);
  const file = opts.reference[0];
  const reference = parseSafetensors(await readReferenceBytes(file), file);
  const kind = vdaCaseKind(reference);
  const dir = path.dirname(file);
  // The fixture's config.json beside the reference: the model block, and the pipeline's input size.
  const besideFile = path.join(dir, 'config.json');
  const beside = opts.config ? await readJson(opts.config) : (await fs.stat(besideFile).catch(() => undefined))?.isFile() ? await readJson(besideFile) : undefined;
  let cfg: VdaConfig;
  if (beside) cfg = resolveVdaConfig(loaded.stateDict, loaded.source, { config: vdaConfigFromJson(beside, opts.config ?? besideFile) });
  else cfg = resolveVdaConfig(loaded.stateDict, loaded.source, { fileName: loaded.source });
  const call = (beside?.call ?? beside?.preprocess ?? {}) as { input_size?: number };
  const inputSize = opts.inputSize ?? call.input_size ?? 518;
  const framesDir = opts.frames ?? path.join(dir, 'frames');
  if (opts.browser) {
    // The page decodes the PNG frames itself (the browser's decoder) and runs the same comparison.
    const run = await runParityPage<VdaPageResult>({
      backend: opts.backend, flags: opts.flags, weights: opts.weights, ...(loaded.format !== 'safetensors' ? { stateDict: loaded.stateDict } : {}),
      references: [file], inputs: kind === 'model' ? [] : await frameFiles(framesDir), dump: Boolean(opts.dump),
      args: (inputs) => ({ vda: { config: cfg, kind, frames: inputs, inputSize } }),
    });
    const r = run.result;
    const { ok, comparisons, notComputed } = r;
    const info = { kind, backend: r.backend, adapter: r.adapter, place: 'chromium', ms: r.ms, memory: r.memory, inputSize };
    await finishParity(opts, ok, { ok, comparisons, notComputed, ...info }, formatParityReport({ ok, comparisons, notComputed, computed: [] }), run.dump);
    return;
  }
  const t0 = performance.now();
  const report = kind === 'model'
    ? await vdaModelParity(loaded.stateDict, cfg, reference, loaded.source)
    : await (kind === 'video' ? vdaVideoParity : vdaStreamParity)(loaded.stateDict, cfg, await readFrames(framesDir), inputSize, reference, loaded.source);
  const { ok, comparisons, notComputed } = report;
  const dump = opts.dump ? serializeSafetensors(report.computed, { source: path.basename(opts.weights), reference: path.basename(file) }) : undefined;
  const info = { kind, backend: tf.getBackend(), place: 'node', ms: performance.now() - t0, inputSize };
  await finishParity(opts, ok, { ok, comparisons, notComputed, ...info }, formatParityReport(report), dump);
}
