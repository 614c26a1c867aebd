/**
 * `Da3Worker` and `VdaWorker`: Depth Anything 3 and Video Depth Anything run in the package's Web
 * Worker (depth-anything.worker.mjs, the one `DepthAnythingWorker` starts), so a page stays
 * responsive while a scene is reconstructed or a stream runs.
 *
 *   const da3 = await Da3Worker.load(fileOrUrl, { backend: 'webgl' });
 *   const { inference, scene } = await da3.inference([fileA, fileB]);   // scene: points, colours, frustums
 *
 *   const vda = await VdaWorker.load(url);
 *   const { depth } = await vda.streamFrame(videoElement);               // one frame of the stream
 *
 * Views and frames are decoded here on the main thread (a <video> element cannot cross) and their
 * RGB transferred; calls run one at a time in call order (the worker answers in arrival order).
 */
import type { Da3SceneOptions } from '../pipeline/da3/scene';
import type { Da3InferenceOptions } from '../pipeline/da3_session';
import type { VdaOptions } from '../pipeline/vda_session';
import { RgbImage, isRgbImage, validateRgb } from '../pipeline/rgb';
import type { BrowserBackendInfo, BrowserBackendName } from '../backends/browser';
import type { Da3Config } from '../config/da3';
import type { VdaConfig } from '../config/vda';
import { BrowserImageInput, loadBrowserImage } from './image';
import type { DownloadProgress } from './weights';
import { CallOrder, Channel, WorkerError, defaultWorkerUrl, weightsMessage } from './worker_client';
import type { WorkerMemory } from './worker_protocol';
import type { Da3WorkerLoaded, Da3WorkerResult, ModelLoadMessageOptions, ModelWeightsMessage, VdaWorkerFrame, VdaWorkerLoaded } from './worker_models_protocol';

export interface ModelWorkerLoadOptions {
  backend?: BrowserBackendName;
  wasmPaths?: string | Record<string, string>;
  /** URL downloads: kept in Cache Storage (default true); progress. */
  cache?: boolean;
  onProgress?: (p: DownloadProgress) => void;
  name?: string;
  metric?: boolean;
  /** A running Worker of depth-anything.worker.mjs, or its URL (default: next to this bundle). */
  worker?: Worker | string | URL;
}

function startWorker(opts: ModelWorkerLoadOptions): Channel {
  if (typeof Worker !== 'undefined' && opts.worker instanceof Worker) return new Channel(opts.worker, 'given Worker');
  const url = opts.worker !== undefined ? new URL(String(opts.worker), globalThis.location?.href) : defaultWorkerUrl();
  return new Channel(new Worker(url, { type: 'module' }), url.href);
}

/**
 * The depth worker's weights message (URL resolved against the page, a File read here, bytes
 * copied so the caller's stay usable). These inputs are never weights in memory, so never `memory`.
 */
async function modelWeightsMessage(w: string | URL | ArrayBuffer | Uint8Array | Blob): Promise<[ModelWeightsMessage, ArrayBuffer[], string]> {
  return (await weightsMessage(w, false)) as [ModelWeightsMessage, ArrayBuffer[], string];
}

/** An RgbImage of the caller is copied (theirs stays usable); anything else is decoded here. */
async function rgbToSend(input: BrowserImageInput): Promise<RgbImage> {
  if (isRgbImage(input)) {
    const rgb = validateRgb(input as RgbImage);
    return { data: rgb.data.slice(), width: rgb.width, height: rgb.height };
  }
  return loadBrowserImage(input);
}

/** What both workers share: the channel, call order, memory, dispose and terminate. */
abstract class ModelWorker {
  protected disposed = false;
  private readonly order = new CallOrder();

  protected constructor(protected readonly channel: Channel, private readonly what: string, private readonly disposeOp: 'da3-dispose' | 'vda-dispose') {}

  protected static async start<L>(weights: string | URL | ArrayBuffer | Uint8Array | Blob, opts: ModelWorkerLoadOptions, op: 'da3-load' | 'vda-load', extra: object): Promise<{ channel: Channel; loaded: L }> {
    const channel = startWorker(opts);
    try {
      const [msg, transfer, source] = await modelWeightsMessage(weights);
      const o: ModelLoadMessageOptions = { backend: opts.backend, wasmPaths: opts.wasmPaths, cache: opts.cache, name: opts.name ?? source, progress: Boolean(opts.onProgress), metric: opts.metric, ...extra };
      const loaded = await channel.request<L>({ op, weights: msg, opts: o } as never, transfer, opts.onProgress);
      return { channel, loaded };
    } catch (e) {
      channel.terminate();
      throw e;
    }
  }

  protected live(): void {
    if (this.disposed) throw new WorkerError(`${this.what}: this model was disposed`);
  }

  /** Posts requests in call order whatever order their preparation (decoding) finishes in. */
  protected inOrder<T>(ready: Promise<() => Promise<T>>): Promise<T> {
    return this.order.run(ready);
  }

  /** The worker's tfjs engine: live tensors and bytes. Answered after the calls made before it. */
  memory(): Promise<WorkerMemory> {
    return this.inOrder(Promise.resolve(() => this.channel.request<WorkerMemory>({ op: 'memory' })));
  }

  /** Frees the model's tensors in the worker; the worker stays (see terminate). */
  async dispose(): Promise<void> {
    this.disposed = true;
    await this.inOrder(Promise.resolve(() => this.channel.request<void>({ op: this.disposeOp })));
  }

  /** Ends the worker at once; pending calls reject. */
  terminate(): void {
    this.disposed = true;
    this.channel.terminate(`${this.what}: the worker was terminated`);
  }
}

export class Da3Worker extends ModelWorker {
  private constructor(channel: Channel, readonly config: Da3Config, readonly backend: BrowserBackendInfo, readonly source: string, readonly metric: boolean) {
    super(channel, 'Da3Worker', 'da3-dispose');
  }

  /** Starts a worker and loads a Depth Anything 3 safetensors file in it (as `DepthAnything3.load`). */
  static async load(weights: string | URL | ArrayBuffer | Uint8Array | Blob, opts: ModelWorkerLoadOptions & { config?: Da3Config } = {}): Promise<Da3Worker> {
    const { channel, loaded } = await ModelWorker.start<Da3WorkerLoaded>(weights, opts, 'da3-load', opts.config ? { config: opts.config } : {});
    return new Da3Worker(channel, loaded.config, loaded.backend, loaded.source, loaded.metric);
  }

  /**
   * One scene from several views: the official `inference()` outputs and (unless `scene: false`)
   * the GLB exporter's point cloud and camera frustums, computed in the worker.
   */
  async inference(images: readonly BrowserImageInput[], opts: Da3InferenceOptions & { scene?: Da3SceneOptions | false } = {}): Promise<Da3WorkerResult> {
    this.live();
    const { scene, ...inferenceOpts } = opts;
    const ready = (async () => {
      const rgb = await Promise.all(images.map(rgbToSend));
      return () => this.channel.request<Da3WorkerResult>({ op: 'da3-inference', images: rgb, opts: inferenceOpts, scene: scene ?? {} }, rgb.map((r) => r.data.buffer as ArrayBuffer));
    })();
    return this.inOrder(ready);
  }
}

export class VdaWorker extends ModelWorker {
  private constructor(channel: Channel, readonly config: VdaConfig, readonly backend: BrowserBackendInfo, readonly source: string) {
    super(channel, 'VdaWorker', 'vda-dispose');
  }

  /** Starts a worker and loads a Video Depth Anything checkpoint (.pth or safetensors) in it. */
  static async load(weights: string | URL | ArrayBuffer | Uint8Array | Blob, opts: ModelWorkerLoadOptions & { config?: VdaConfig } = {}): Promise<VdaWorker> {
    const { channel, loaded } = await ModelWorker.start<VdaWorkerLoaded>(weights, opts, 'vda-load', opts.config ? { config: opts.config } : {});
    return new VdaWorker(channel, loaded.config, loaded.backend, loaded.source);
  }

  /** The streaming mode: the next frame of the source (a <video>, canvas, VideoFrame, RGB ...), at its size. */
  async streamFrame(frame: BrowserImageInput, opts: VdaOptions = {}): Promise<VdaWorkerFrame> {
    this.live();
    const ready = (async () => {
      const rgb = await rgbToSend(frame);
      return () => this.channel.request<VdaWorkerFrame>({ op: 'vda-stream', frame: rgb, opts }, [rgb.data.buffer as ArrayBuffer]);
    })();
    return this.inOrder(ready);
  }

  /** Frees the temporal cache: the next frame starts a new stream. */
  resetStream(): Promise<void> {
    return this.inOrder(Promise.resolve(() => this.channel.request<void>({ op: 'vda-reset' })));
  }
}
