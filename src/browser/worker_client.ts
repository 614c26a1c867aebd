/**
 * `DepthAnythingWorker`: the browser `DepthAnything` run in a Web Worker, so the page never freezes
 * while the model loads or runs (minutes on software WebGL).
 *
 *   const model = await DepthAnythingWorker.load(url, { backend: 'auto', wasmPaths: '/wasm/' });
 *   const depth = await model.predict(fileOrImg);   // the same DepthMap as DepthAnything.predict
 *   model.terminate();
 *
 * Images are decoded here, on the main thread (the page's decoders, proven equal to OpenCV), and
 * their RGB goes to the worker; weights bytes, pixels and depth are transferred, not copied.
 * Calls run one at a time in call order. Errors thrown in the worker arrive as an Error with the
 * same name and one-line message; a worker that dies (script error, crash, terminate) rejects every
 * pending and later call in one sentence instead of leaving it waiting.
 */
import type { ModelConfig } from '../config/depth';
import { isMetric } from '../config/depth';
import type { DepthMap } from '../pipeline/postprocess';
import { RgbImage, isRgbImage, validateRgb } from '../pipeline/rgb';
import { WeightsError } from '../weights/state_dict';
import type { BrowserBackendInfo } from '../backends/browser';
import type { BrowserLoadOptions, BrowserPredictOptions, BrowserWeightsInput, WeightsInMemory } from './depth_anything';
import { BrowserImageInput, loadBrowserImage } from './image';
import type { DownloadProgress } from './weights';
import type { WorkerLoaded, WorkerMemory, WorkerPredicted, WorkerReply, WorkerRequest, WorkerWeights } from './worker_protocol';

// Set by tools/build-browser.mjs to the bundle's own import.meta.url (tsc builds this file as CommonJS).
declare const __DEPTH_ANYTHING_MODULE_URL__: string | undefined;

/** The worker bundle's file name, next to the package's browser bundles (dist/browser/). */
export const WORKER_BUNDLE = 'depth-anything.worker.mjs';

export interface WorkerLoadOptions extends BrowserLoadOptions {
  /**
   * The worker: a running Worker of depth-anything.worker.mjs, or its URL. Default: the file next to
   * this bundle (dist/browser/depth-anything.worker.mjs), started as a module worker.
   */
  worker?: Worker | string | URL;
  /**
   * Transfer weights bytes to the worker instead of copying them (default true): an ArrayBuffer or
   * a Uint8Array spanning its whole buffer is detached (unusable) here afterwards; tensors of a
   * `{ stateDict }` likewise.
   */
  transfer?: boolean;
}

/**
 * Posts requests in call order (a worker answers in arrival order), whatever order their
 * preparation (image decoding) finishes in; a failed preparation only fails its own call.
 */
export class CallOrder {
  /** Resolves when the latest call's request has been posted. */
  private posted: Promise<void> = Promise.resolve();

  async run<T>(ready: Promise<() => Promise<T>>): Promise<T> {
    const previous = this.posted;
    let release!: () => void;
    this.posted = new Promise<void>((r) => { release = r; });
    let reply: Promise<T>;
    try {
      const post = await ready;
      await previous;
      reply = post();
    } finally {
      release();
    }
    return reply;
  }
}

export class WorkerError extends Error {
  constructor(message: string) { super(message); this.name = 'WorkerError'; }
}

/** A request without its id (distributed over the union, so each op keeps its fields). */
export type Outgoing = WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, 'id'> : never) : never;

interface Pending { resolve(v: unknown): void; reject(e: Error): void; onProgress?: (p: DownloadProgress) => void }

export function defaultWorkerUrl(): URL {
  const base = typeof __DEPTH_ANYTHING_MODULE_URL__ !== 'undefined' ? __DEPTH_ANYTHING_MODULE_URL__ : undefined;
  if (!base) throw new WorkerError(`DepthAnythingWorker: cannot tell where ${WORKER_BUNDLE} is served; pass { worker: its URL }`);
  return new URL(WORKER_BUNDLE, base);
}

function buffersOf(arrays: Iterable<ArrayBufferView>): ArrayBuffer[] {
  const set = new Set<ArrayBuffer>();
  for (const a of arrays) set.add(a.buffer as ArrayBuffer);
  return [...set];
}

/** The message end of one worker: ids, replies, progress, and failing everything when it dies (also Da3Worker's and VdaWorker's: worker_models_client.ts). */
export class Channel {
  private next = 1;
  private readonly pending = new Map<number, Pending>();
  private dead: string | null = null;

  constructor(private readonly worker: Worker, private readonly name: string) {
    worker.onmessage = (e: MessageEvent<WorkerReply>) => {
      const r = e.data;
      const p = this.pending.get(r.id);
      if (!p) return;
      if ('progress' in r) { p.onProgress?.(r.progress); return; }
      this.pending.delete(r.id);
      if (r.ok) p.resolve(r.result);
      else p.reject(Object.assign(new Error(r.error.message), { name: r.error.name }));
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      // A module that fails to load gives an ErrorEvent with no message.
      this.fail(e.message ? `the depth worker (${this.name}) stopped: ${e.message}` : `the depth worker (${this.name}) could not start or crashed (no message; is its script served?)`);
    };
    worker.onmessageerror = () => this.fail(`the depth worker (${this.name}) sent a message that could not be read`);
  }

  request<T>(req: Outgoing, transfer: ArrayBuffer[] = [], onProgress?: (p: DownloadProgress) => void): Promise<T> {
    if (this.dead) return Promise.reject(new WorkerError(this.dead));
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onProgress });
      try {
        this.worker.postMessage({ ...req, id }, transfer);
      } catch (e) {
        this.pending.delete(id);
        reject(e as Error);
      }
    });
  }

  /** Rejects every pending call and every later one with `why`. */
  fail(why: string): void {
    if (this.dead) return;
    this.dead = why;
    for (const p of this.pending.values()) p.reject(new WorkerError(why));
    this.pending.clear();
  }

  terminate(why = 'DepthAnythingWorker: the worker was terminated'): void {
    this.worker.terminate();
    this.fail(why);
  }
}

export async function weightsMessage(w: BrowserWeightsInput, transfer: boolean): Promise<[WorkerWeights, ArrayBuffer[], string]> {
  if (typeof w === 'string' || w instanceof URL) {
    // The worker resolves URLs against its own script; resolve against the page here.
    const url = new URL(String(w), globalThis.location?.href).href;
    return [{ kind: 'url', url }, [], String(w)];
  }
  if (typeof Blob !== 'undefined' && w instanceof Blob) {
    const name = typeof File !== 'undefined' && w instanceof File ? w.name : '<blob>';
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await w.arrayBuffer());
    } catch (e) {
      throw new WeightsError(`${name}: cannot read the file (${(e as Error).message})`);
    }
    return [{ kind: 'bytes', bytes }, [bytes.buffer as ArrayBuffer], name];
  }
  if (w instanceof ArrayBuffer || w instanceof Uint8Array) {
    let bytes = w instanceof ArrayBuffer ? new Uint8Array(w) : w;
    // A view into a larger buffer: send only its bytes (a copy), never detach what it shares.
    if (transfer && (bytes.byteOffset !== 0 || bytes.byteLength !== bytes.buffer.byteLength)) bytes = bytes.slice();
    return [{ kind: 'bytes', bytes }, transfer ? [bytes.buffer as ArrayBuffer] : [], '<buffer>'];
  }
  const { stateDict, config, source } = w as WeightsInMemory;
  return [{ kind: 'memory', stateDict, config, source }, transfer ? buffersOf([...stateDict.values()].map((t) => t.data)) : [], source ?? '<weights in memory>'];
}

export class DepthAnythingWorker {
  private disposed = false;
  private readonly order = new CallOrder();

  private constructor(private readonly channel: Channel, readonly config: ModelConfig, readonly backend: BrowserBackendInfo, readonly source: string) {}

  /** Starts a worker and loads the model in it; options as `DepthAnything.load`, plus `worker` and `transfer`. */
  static async load(weights: BrowserWeightsInput, opts: WorkerLoadOptions = {}): Promise<DepthAnythingWorker> {
    let worker: Worker;
    let name: string;
    if (typeof Worker !== 'undefined' && opts.worker instanceof Worker) {
      worker = opts.worker;
      name = 'given Worker';
    } else {
      const url = opts.worker !== undefined ? new URL(String(opts.worker), globalThis.location?.href) : defaultWorkerUrl();
      name = url.href;
      worker = new Worker(url, { type: 'module' });
    }
    const channel = new Channel(worker, name);
    // An AbortSignal cannot cross to the worker: aborting a load ends the worker (and the download).
    const { signal } = opts;
    const abort = (): void => channel.terminate('the model load was aborted');
    signal?.addEventListener('abort', abort, { once: true });
    try {
      if (signal?.aborted) abort();
      const [msg, transfer, source] = await weightsMessage(weights, opts.transfer ?? true);
      const { onProgress, worker: _w, transfer: _t, signal: _s, ...rest } = opts;
      void _w; void _t; void _s;
      const loaded = await channel.request<WorkerLoaded>(
        { op: 'load', weights: msg, opts: { ...rest, name: opts.name ?? (msg.kind === 'memory' ? undefined : source), progress: Boolean(onProgress) } },
        transfer, onProgress,
      );
      return new DepthAnythingWorker(channel, loaded.config, loaded.backend, loaded.source);
    } catch (e) {
      channel.terminate();
      if (signal?.aborted) throw Object.assign(new Error('the model load was aborted'), { name: 'AbortError' });
      throw e;
    } finally {
      signal?.removeEventListener('abort', abort);
    }
  }

  get metric(): boolean {
    return isMetric(this.config);
  }

  /** Depth at the image's own size, computed in the worker (relative: larger is nearer; metric: metres). */
  async predict(image: BrowserImageInput, opts: BrowserPredictOptions = {}): Promise<DepthMap> {
    return (await this.predictWithImage(image, opts)).depth;
  }

  /** `predict`, also returning the decoded RGB. */
  async predictWithImage(image: BrowserImageInput, opts: BrowserPredictOptions = {}): Promise<{ depth: DepthMap; image: RgbImage }> {
    if (this.disposed) throw new Error('DepthAnything: this model was disposed');
    // Decoding starts at once (several images may decode together); the request is posted in call order.
    const ready = (async () => {
      // An RgbImage of the caller is copied (theirs stays usable); pixels decoded here are transferred.
      const given = isRgbImage(image);
      const rgb = given ? validateRgb(image as RgbImage) : await loadBrowserImage(image);
      const sent: RgbImage = given ? { data: rgb.data.slice(), width: rgb.width, height: rgb.height } : rgb;
      return () => this.channel.request<WorkerPredicted>({ op: 'predict', image: sent, opts }, [sent.data.buffer as ArrayBuffer]);
    })();
    return this.inOrder(ready);
  }

  /** The worker's tfjs engine: live tensors and bytes (flat across calls). Answered after the calls made before it. */
  memory(): Promise<WorkerMemory> {
    return this.inOrder(Promise.resolve(() => this.channel.request<WorkerMemory>({ op: 'memory' })));
  }

  async numTensors(): Promise<number> {
    return (await this.memory()).numTensors;
  }

  /** Frees the model's tensors in the worker, after the calls made before it; the worker stays (see terminate). */
  async dispose(): Promise<void> {
    this.disposed = true;
    await this.inOrder(Promise.resolve(() => this.channel.request<void>({ op: 'dispose' })));
  }

  private inOrder<T>(ready: Promise<() => Promise<T>>): Promise<T> {
    return this.order.run(ready);
  }

  /** Ends the worker at once (all its memory goes with it); pending calls reject. */
  terminate(): void {
    this.disposed = true;
    this.channel.terminate();
  }
}
