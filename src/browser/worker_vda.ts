/**
 * The worker's Video Depth Anything requests (worker.ts dispatches them here): one
 * `VideoDepthAnything` per worker, streamed one frame at a time (`infer_video_depth_one`); the
 * temporal cache lives in the worker between frames until `vda-reset` or `vda-dispose`.
 */
import { VideoDepthAnything } from './video_depth_anything';
import type { DownloadProgress } from './weights';
import type { VdaRequest, VdaWorkerFrame, VdaWorkerLoaded } from './worker_models_protocol';
import type { WorkerReply } from './worker_protocol';

let model: VideoDepthAnything | null = null;
/** Frames streamed since the load or the last reset. */
let streamed = 0;

export async function handleVda(req: VdaRequest, post: (reply: WorkerReply) => void): Promise<[unknown, ArrayBuffer[]]> {
  switch (req.op) {
    case 'vda-load': {
      const { weights, opts } = req;
      const next = await VideoDepthAnything.load(weights.kind === 'url' ? weights.url : weights.bytes, {
        backend: opts.backend, wasmPaths: opts.wasmPaths, cache: opts.cache, name: opts.name, config: opts.config, metric: opts.metric,
        onProgress: opts.progress ? (p: DownloadProgress) => post({ id: req.id, progress: p }) : undefined,
      });
      model?.dispose();
      model = next;
      streamed = 0;
      const loaded: VdaWorkerLoaded = { config: next.config, backend: next.backend, source: next.source };
      return [loaded, []];
    }
    case 'vda-stream': {
      if (!model) throw new Error('VdaWorker: no Video Depth Anything model is loaded in this worker (disposed?)');
      const depth = await model.streamFrame(req.frame, req.opts);
      const r: VdaWorkerFrame = { depth, index: streamed++ };
      return [r, [depth.data.buffer as ArrayBuffer]];
    }
    case 'vda-reset':
      model?.resetStream();
      streamed = 0;
      return [undefined, []];
    case 'vda-dispose':
      model?.dispose();
      model = null;
      return [undefined, []];
  }
}
