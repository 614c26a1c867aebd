/**
 * The page `depth-anything parity --browser` runs in headless Chromium: fetches the weights and
 * the reference from the 127.0.0.1 server, starts the named tfjs backend and runs the same entry
 * point as the CLI (parityFromStateDict in src/verify/parity.ts), so any model kind the CLI compares is
 * compared here too. Segmentation weights (`seg` set: the SegConfig Node resolved) run the seg
 * entry point instead (segParityFromStateDict in src/verify/seg_parity.ts). Driven by
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
}

exposePageTask(async (args: ParityPageArgs) => {
  const adapter = await startPageBackend(args.backend, args.flags);
  const [wBytes, ...rBytes] = await Promise.all([fetchBytes(args.weightsUrl, args.weightsName), ...args.references.map((r) => fetchBytes(r.url, r.name))]);
  const stateDict = stateDictFromSafetensors(parseSafetensors(wBytes, args.weightsName));
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
