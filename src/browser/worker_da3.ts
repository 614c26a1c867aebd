/**
 * The worker's Depth Anything 3 requests (worker.ts dispatches them here): one `DepthAnything3`
 * per worker; `da3-inference` runs the views the page decoded and returns the prediction and,
 * unless asked not to, the official GLB exporter's scene (points, colours, camera frustums).
 */
import { DepthAnything3 } from './depth_anything3';
import { da3Scene } from '../pipeline/da3/scene';
import type { DownloadProgress } from './weights';
import type { Da3Request, Da3WorkerLoaded, Da3WorkerResult } from './worker_models_protocol';
import type { WorkerReply } from './worker_protocol';

let model: DepthAnything3 | null = null;

function buffers(...arrays: Array<ArrayBufferView | null | undefined>): ArrayBuffer[] {
  return [...new Set(arrays.filter((a): a is ArrayBufferView => Boolean(a)).map((a) => a.buffer as ArrayBuffer))];
}

export async function handleDa3(req: Da3Request, post: (reply: WorkerReply) => void): Promise<[unknown, ArrayBuffer[]]> {
  switch (req.op) {
    case 'da3-load': {
      const { weights, opts } = req;
      const next = await DepthAnything3.load(weights.kind === 'url' ? weights.url : weights.bytes, {
        backend: opts.backend, wasmPaths: opts.wasmPaths, cache: opts.cache, name: opts.name, config: opts.config, metric: opts.metric,
        onProgress: opts.progress ? (p: DownloadProgress) => post({ id: req.id, progress: p }) : undefined,
      });
      // Bound before the old one goes: a wrong file leaves the old model working.
      model?.dispose();
      model = next;
      const loaded: Da3WorkerLoaded = { config: next.config, backend: next.backend, source: next.source, metric: next.metric };
      return [loaded, []];
    }
    case 'da3-inference': {
      if (!model) throw new Error('Da3Worker: no Depth Anything 3 model is loaded in this worker (disposed?)');
      const inference = await model.inferenceRgb(req.images, req.opts);
      const r: Da3WorkerResult = { inference };
      if (req.scene !== false && inference.extrinsics && inference.intrinsics) {
        r.scene = da3Scene({ ...inference, extrinsics: inference.extrinsics, intrinsics: inference.intrinsics }, req.scene ?? {});
      }
      const s = r.scene;
      return [r, buffers(inference.depth, inference.conf, inference.extrinsics, inference.intrinsics, inference.sky, inference.processedImages,
        s?.pointsWorld, s?.colorsWorld, s?.alignment, s?.points, s?.colors, s?.cameraFrustumLines, s?.cameraFrustumLinesAligned, s?.cameraColors)];
    }
    case 'da3-dispose':
      model?.dispose();
      model = null;
      return [undefined, []];
  }
}
