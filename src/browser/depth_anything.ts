/**
 * `DepthAnything` in a page: the Node class's API with browser sources of weights and images.
 *
 *   const model = await DepthAnything.load('https://.../depth_anything_v2_vits.safetensors', { onProgress });
 *   const depth = await model.predict(imgElementOrFile);   // { data, width, height, metric }
 *   drawDepth(canvas, depth); model.dispose();
 *
 * Every call leaves tf.memory().numTensors as it was, including calls that fail.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig, VARIANTS, VariantName, Version } from '../config/depth';
import { NetworkInput } from '../pipeline/preprocess';
import { DepthMap } from '../pipeline/postprocess';
import { RgbImage } from '../pipeline/rgb';
import { DepthSession, PredictOptions, WeightsInMemory, requireConfig, resolveVariant } from '../pipeline/session';
import { WeightsError } from '../weights/state_dict';
import { BrowserBackendInfo, BrowserBackendName, initBrowserBackend } from '../backends/browser';
import { BrowserImageInput, loadBrowserImage } from './image';
import { DownloadProgress, fetchWeights, weightsFromBytes } from './weights';

export type { WeightsInMemory } from '../pipeline/session';

export type BrowserWeightsInput = string | URL | ArrayBuffer | Uint8Array | Blob | WeightsInMemory;

export interface BrowserLoadOptions {
  /** Default: keep the active backend if one is set, else `auto` (webgpu > webgl > wasm > cpu). */
  backend?: BrowserBackendName;
  /** wasm backend: where its .wasm files are served (folder URL ending in '/'). */
  wasmPaths?: string | Record<string, string>;
  /** A ModelConfig or a variant name ('v2-vits'); default: what the weights record or their name tells. */
  config?: ModelConfig | VariantName;
  /** Hugging Face config.json (parsed), for HF-layout safetensors. */
  hfConfig?: unknown;
  version?: Version;
  maxDepth?: number;
  /** URL downloads: progress, and whether to keep the file in Cache Storage (default true). */
  onProgress?: (p: DownloadProgress) => void;
  cache?: boolean;
  signal?: AbortSignal;
  /** The name errors use for bytes (default: the URL or file name, else '<buffer>'); also gives release-name hints. */
  name?: string;
}

/** Options of `predict` in a page: the same as in Node. */
export type BrowserPredictOptions = PredictOptions;

/** The name errors use for a weights input. */
export function sourceName(w: BrowserWeightsInput): string {
  if (typeof w === 'string') return w;
  if (w instanceof URL) return w.href;
  if (typeof File !== 'undefined' && w instanceof File) return w.name;
  if (typeof Blob !== 'undefined' && w instanceof Blob) return '<blob>';
  return '<buffer>';
}

/** A weights input's bytes: fetched (Cache Storage, progress), or read from a buffer or a File. */
export async function readWeights(w: Exclude<BrowserWeightsInput, WeightsInMemory>, opts: Pick<BrowserLoadOptions, 'onProgress' | 'cache' | 'signal'>): Promise<Uint8Array> {
  if (typeof w === 'string' || w instanceof URL) {
    return fetchWeights(String(w), { onProgress: opts.onProgress, cache: opts.cache, signal: opts.signal });
  }
  if (w instanceof Uint8Array) return w;
  if (w instanceof ArrayBuffer) return new Uint8Array(w);
  try {
    return new Uint8Array(await w.arrayBuffer());
  } catch (e) {
    throw new WeightsError(`${sourceName(w)}: cannot read the file (${(e as Error).message})`);
  }
}

/** GPU allocation failures and lost contexts, said in one sentence with what to try; others unchanged. */
function gpuMemoryError(e: unknown, backend: string, width: number, height: number): unknown {
  const msg = e instanceof Error ? e.message : String(e);
  if (!/out of memory|\boom\b|failed to allocate|allocation failed|context (was )?lost|CONTEXT_LOST|device (was )?lost/i.test(msg)) return e;
  return new Error(`the ${backend} backend ran out of GPU memory on a ${width}x${height} image (${msg.split('\n')[0]}); use a smaller input size or the wasm backend`);
}

/** The backend `load` runs on: the one asked for, else the active one, else `auto`. */
export async function backendForPageLoad(opts: Pick<BrowserLoadOptions, 'backend' | 'wasmPaths'>): Promise<BrowserBackendInfo> {
  return opts.backend !== undefined || !tf.engine().backendName
    ? initBrowserBackend(opts.backend ?? 'auto', { wasmPaths: opts.wasmPaths })
    : { name: tf.getBackend() as BrowserBackendInfo['name'], description: tf.getBackend() };
}

export class DepthAnything extends DepthSession<BrowserBackendInfo> {
  static async load(weights: BrowserWeightsInput, opts: BrowserLoadOptions = {}): Promise<DepthAnything> {
    const backend = await backendForPageLoad(opts);
    const given = resolveVariant(opts.config);
    if (typeof given === 'string') throw new WeightsError(`unknown variant "${given}"; expected one of ${Object.keys(VARIANTS).join(', ')}`);
    if (typeof weights === 'object' && weights !== null && 'stateDict' in weights) {
      const source = weights.source ?? '<weights in memory>';
      return new DepthAnything(weights.stateDict, requireConfig(given ?? weights.config, source), backend, source);
    }
    const source = opts.name ?? sourceName(weights);
    const bytes = await readWeights(weights, opts);
    const read = await weightsFromBytes(bytes, source, { config: given, hfConfig: opts.hfConfig, version: opts.version, maxDepth: opts.maxDepth });
    return new DepthAnything(read.stateDict, requireConfig(read.config, source, read.configProblem), backend, source);
  }

  /** The exact network input (the official `image2tensor`), NHWC float32. */
  async preprocess(image: BrowserImageInput, opts: BrowserPredictOptions = {}): Promise<NetworkInput> {
    return this.preprocessRgb(await loadBrowserImage(image), opts);
  }

  /** Depth at the image's own size (relative: larger is nearer; metric: metres). */
  async predict(image: BrowserImageInput, opts: BrowserPredictOptions = {}): Promise<DepthMap> {
    return (await this.predictWithImage(image, opts)).depth;
  }

  /** `predict`, also returning the decoded RGB (for the point cloud and side-by-side views). */
  async predictWithImage(image: BrowserImageInput, opts: BrowserPredictOptions = {}): Promise<{ depth: DepthMap; image: RgbImage }> {
    this.live();
    const img = await loadBrowserImage(image);
    try {
      return { depth: await this.predictRgb(img, opts), image: img };
    } catch (e) {
      throw gpuMemoryError(e, this.backend.name, img.width, img.height);
    }
  }
}
