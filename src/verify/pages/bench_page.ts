/**
 * The page `depth-anything bench --browser` runs in headless Chromium: the same runBench as the
 * CLI (random weights of a real configuration), on the named tfjs backend, with the adapter it ran
 * on. Driven by src/verify/browser_run.ts through `window.depthAnythingPage`.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { ModelConfig } from '../../config/depth';
import { runBench } from '../bench';
import { AttentionLayout, setAttentionLayout } from '../../backends/choices';
import { PageBackend, startPageBackend } from '../page_backend';
import { backendMemory } from '../../backends/memory';
import { exposePageTask } from '../page_task';

export interface BenchPageArgs {
  backend: PageBackend;
  flags?: Record<string, number | boolean>;
  config: ModelConfig;
  height: number;
  width: number;
  batch: number;
  runs: number;
  warmup: number;
  stages: boolean;
  /** Override the backend's attention layout (measurements). */
  attention?: AttentionLayout;
}

exposePageTask(async (a: BenchPageArgs) => {
  const adapter = await startPageBackend(a.backend, a.flags);
  if (a.attention) setAttentionLayout(tf.getBackend(), a.attention);
  const before = backendMemory();
  const r = await runBench(a.config, { height: a.height, width: a.width, batch: a.batch, runs: a.runs, warmup: a.warmup, stages: a.stages });
  return { result: { ...r, adapter, backend: tf.getBackend(), memory: { before, after: backendMemory() }, userAgent: navigator.userAgent } };
});
