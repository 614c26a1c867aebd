/**
 * The page `depth-anything parity --browser` runs in headless Chromium: fetches the weights and
 * the reference from the 127.0.0.1 server, starts the named tfjs backend and runs the same entry
 * point as the CLI (parityFromStateDict in src/verify/parity.ts), so any model kind the CLI compares is
 * compared here too. Segmentation weights (`seg` set: the SegConfig Node resolved) run the seg
 * entry point instead (segParityFromStateDict in src/verify/seg_parity.ts); Depth Anything 3 (`da3`)
 * and Video Depth Anything (`vda`) run theirs (src/verify/da3_parity.ts, vda_parity.ts,
 * vda_pipeline_parity.ts) on views and frames decoded by the browser from the case's PNG files. Driven by
 * src/verify/browser_run.ts through `window.depthAnythingPage`.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { ModelConfig } from '../../config/depth';
import { parseSafetensors, serializeSafetensors } from '../../io/safetensors';
import { mergeReferences, parityFromStateDict } from '../parity';
import { stateDictFromSafetensors } from '../../weights/safetensors_weights';
import { PageBackend, startPageBackend } from '../page_backend';
import { backendMemory } from '../../backends/memory';
import { exposePageTask, fetchBytes } from '../page_task';
import { SegConfig } from '../../config/semseg';
import { SegPageResult, segParityFromStateDict } from '../seg_parity';
import { Da3Config } from '../../config/da3';
import { VdaConfig } from '../../config/vda';
import { da3StateDictFromSafetensors } from '../../da3/weights';
import { RefViewStrategy } from '../../da3/reference_view_selector';
import { decodeBlob } from '../../browser/image';
import { RgbImage } from '../../pipeline/rgb';
import { da3CasePipeline, runDa3Parity } from '../da3_parity';
import { vdaModelParity } from '../vda_parity';
import { vdaStreamParity, vdaVideoParity } from '../vda_pipeline_parity';

/** Files the page fetches from the driver's server. */
interface PageFile { url: string; name: string }

/** Depth Anything 3: end to end from the case's PNG files (config.json `inference.images`). */
export interface Da3PageArgs {
  config: Da3Config;
  /** The case's config.json (its `inference` and `extra` blocks) and where it came from. */
  configJson: Record<string, unknown>;
  configName: string;
  /** The PNG files, in the order of `inference.images`; none: the net on the recorded `input`. */
  images: PageFile[];
  strategy: RefViewStrategy;
}

/** Video Depth Anything: the model case, or the pipeline / streaming case from the PNG frames. */
export interface VdaPageArgs {
  config: VdaConfig;
  kind: 'model' | 'video' | 'stream';
  frames: PageFile[];
  inputSize: number;
}

export interface ParityPageArgs {
  backend: PageBackend;
  /** tfjs flags set before the backend starts (e.g. { WEBGL_PACK: false }). */
  flags?: Record<string, number | boolean>;
  weightsUrl: string;
  weightsName: string;
  /** The reference's files (activations, and infer.safetensors for V1 metric): merged in order. */
  references: { url: string; name: string }[];
  /** Resolved by the CLI in Node; undefined: from the reference's metadata. */
  config?: ModelConfig;
  /** Keep every computed tensor as safetensors bytes for the driver to read back (--dump). */
  dump?: boolean;
  /** Segmentation weights: their configuration (resolved by the CLI in Node). */
  seg?: SegConfig;
  da3?: Da3PageArgs;
  vda?: VdaPageArgs;
}

/** PNG bytes decoded by the browser (no colour management, no orientation: the files carry neither). */
async function decodeAll(files: PageFile[]): Promise<RgbImage[]> {
  const bytes = await Promise.all(files.map((f) => fetchBytes(f.url, f.name)));
  return Promise.all(bytes.map((b, i) => decodeBlob(new Blob([b as BlobPart], { type: 'image/png' }), files[i].name)));
}

exposePageTask(async (args: ParityPageArgs) => {
  const adapter = await startPageBackend(args.backend, args.flags);
  const [wBytes, ...rBytes] = await Promise.all([fetchBytes(args.weightsUrl, args.weightsName), ...args.references.map((r) => fetchBytes(r.url, r.name))]);
  const parsed = parseSafetensors(wBytes, args.weightsName);
  const stateDict = args.da3 ? da3StateDictFromSafetensors(parsed) : stateDictFromSafetensors(parsed);
  const reference = mergeReferences(rBytes.map((b, i) => parseSafetensors(b, args.references[i].name)));
  const before = backendMemory();
  const t0 = performance.now();
  if (args.seg) {
    const r = await segParityFromStateDict(stateDict, args.seg, reference, args.weightsName);
    const ms = performance.now() - t0;
    const after = backendMemory();
    const dump = args.dump ? serializeSafetensors(r.computed, { source: args.weightsName, reference: args.references.map((x) => x.name).join(',') }) : undefined;
    const { ok, comparisons, notComputed, masks, labels, boxes } = r;
    const result: SegPageResult & { userAgent: string } = {
      ok, comparisons, notComputed, masks, labels, boxes, backend: tf.getBackend(), place: 'chromium', ...(adapter ? { adapter } : {}), ms, memory: { before, after }, userAgent: navigator.userAgent,
    };
    return { result, ...(dump ? { bytes: dump } : {}) };
  }
  const refNames = args.references.map((r) => r.name).join(',');
  const base = () => ({ backend: tf.getBackend(), adapter, userAgent: navigator.userAgent });
  if (args.da3) {
    const d = args.da3;
    const pipeline = d.images.length ? da3CasePipeline(d.configJson, await decodeAll(d.images), reference, d.configName) : undefined;
    const t1 = performance.now();
    const before3 = backendMemory();
    const r = await runDa3Parity(stateDict, d.config, reference, args.weightsName, d.strategy, pipeline);
    const ms = performance.now() - t1;
    const after = backendMemory();
    const dump = args.dump ? serializeSafetensors(r.computed, { source: args.weightsName, reference: refNames }) : undefined;
    const { ok, comparisons, integers, notComputed } = r;
    return { result: { ok, comparisons, integers, notComputed, endToEnd: Boolean(pipeline), ...base(), ms, memory: { before: before3, after } }, ...(dump ? { bytes: dump } : {}) };
  }
  if (args.vda) {
    const v = args.vda;
    const frames = v.kind === 'model' ? [] : await decodeAll(v.frames);
    const t1 = performance.now();
    const beforeV = backendMemory();
    const r = v.kind === 'model'
      ? await vdaModelParity(stateDict, v.config, reference, args.weightsName)
      : await (v.kind === 'video' ? vdaVideoParity : vdaStreamParity)(stateDict, v.config, frames, v.inputSize, reference, args.weightsName);
    const ms = performance.now() - t1;
    const after = backendMemory();
    const dump = args.dump ? serializeSafetensors(r.computed, { source: args.weightsName, reference: refNames }) : undefined;
    const { ok, comparisons, notComputed } = r;
    return { result: { ok, comparisons, notComputed, kind: v.kind, inputSize: v.inputSize, ...base(), ms, memory: { before: beforeV, after } }, ...(dump ? { bytes: dump } : {}) };
  }
  const report = await parityFromStateDict(stateDict, args.config, reference, args.weightsName);
  const ms = performance.now() - t0;
  const after = backendMemory();
  const dump = args.dump ? serializeSafetensors(report.computed, { source: args.weightsName, reference: args.references.map((r) => r.name).join(',') }) : undefined;
  const { ok, comparisons, notComputed } = report;
  return {
    result: { ok, comparisons, notComputed, backend: tf.getBackend(), adapter, ms, memory: { before, after }, userAgent: navigator.userAgent },
    ...(dump ? { bytes: dump } : {}),
  };
});
