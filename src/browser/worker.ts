/**
 * The worker entry (dist/browser/depth-anything.worker.mjs): one `DepthAnything` in a dedicated
 * module worker, driven by `DepthAnythingWorker` (worker_client.ts). Requests run one at a time in
 * arrival order (an async handler would otherwise interleave two predicts at their awaits).
 * WebGL runs on an OffscreenCanvas here (tfjs-backend-webgl picks it when there is no document),
 * WebGPU and wasm as in a page.
 */
import * as tf from '@tensorflow/tfjs-core';
import './index'; // every backend, and tfjs-backend-wasm's setWasmPaths
import { DepthAnything } from './depth_anything';
import type { ModelConfig, VariantName } from '../config/depth';
import type { DownloadProgress } from './weights';
import type { WorkerLoaded, WorkerMemory, WorkerPredicted, WorkerReply, WorkerRequest } from './worker_protocol';
import { handleDa3 } from './worker_da3';
import { handleVda } from './worker_vda';

// The DOM lib types `self` as Window; in a worker it is a DedicatedWorkerGlobalScope.
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: WorkerReply, options?: { transfer?: Transferable[] }): void;
};

let model: DepthAnything | null = null;

function post(reply: WorkerReply, transfer: ArrayBuffer[] = []): void {
  scope.postMessage(reply, { transfer });
}

/** The distinct buffers of these arrays (two views of one buffer may be listed once only). */
function buffersOf(...arrays: ArrayBufferView[]): ArrayBuffer[] {
  return [...new Set(arrays.map((a) => a.buffer as ArrayBuffer))];
}

async function handle(req: WorkerRequest): Promise<[unknown, ArrayBuffer[]]> {
  switch (req.op) {
    case 'load': {
      const { weights, opts } = req;
      const loadOpts = {
        backend: opts.backend, wasmPaths: opts.wasmPaths, hfConfig: opts.hfConfig, version: opts.version, maxDepth: opts.maxDepth,
        cache: opts.cache, name: opts.name, config: opts.config as ModelConfig | VariantName | undefined,
        onProgress: opts.progress ? (p: DownloadProgress) => post({ id: req.id, progress: p }) : undefined,
      };
      const input = weights.kind === 'url' ? weights.url : weights.kind === 'bytes' ? weights.bytes : { stateDict: weights.stateDict, config: weights.config, source: weights.source };
      // The new model is bound before the old one goes, so a wrong file leaves the old one working.
      const next = await DepthAnything.load(input, loadOpts);
      model?.dispose();
      model = next;
      const loaded: WorkerLoaded = { config: next.config, backend: next.backend, source: next.source };
      return [loaded, []];
    }
    case 'predict': {
      if (!model) throw new Error('DepthAnythingWorker: no model is loaded in this worker (disposed?)');
      const r: WorkerPredicted = await model.predictWithImage(req.image, req.opts);
      return [r, buffersOf(r.depth.data, r.image.data)];
    }
    case 'memory': {
      // Engine state, not tf.memory(): that would start a backend when none is set yet.
      const s = tf.engine().state;
      const mem: WorkerMemory = { numTensors: s.numTensors, numBytes: s.numBytes };
      return [mem, []];
    }
    case 'dispose':
      model?.dispose();
      model = null;
      return [undefined, []];
    // Depth Anything 3 and Video Depth Anything: their own models in this worker (worker_da3.ts, worker_vda.ts).
    case 'da3-load': case 'da3-inference': case 'da3-dispose':
      return handleDa3(req, post);
    case 'vda-load': case 'vda-stream': case 'vda-reset': case 'vda-dispose':
      return handleVda(req, post);
    default:
      throw new Error(`DepthAnythingWorker: unknown request ${JSON.stringify((req as { op?: unknown }).op)}`);
  }
}

let queue: Promise<void> = Promise.resolve();

scope.onmessage = (e: MessageEvent<WorkerRequest>): void => {
  const req = e.data;
  queue = queue.then(async () => {
    try {
      const [result, transfer] = await handle(req);
      post({ id: req.id, ok: true, result }, transfer);
    } catch (err) {
      // The library's errors are one line naming file / key / shape; they cross as name + message.
      const error = err instanceof Error ? { name: err.name, message: err.message } : { name: 'Error', message: String(err) };
      post({ id: req.id, ok: false, error });
    }
  });
};
