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
import { ModelConfig, VARIANTS, VariantName, Version, isMetric } from '../config/depth';
import { DepthAnythingWeights, bindWeights, disposeWeights, forward } from '../depth/depth_anything';
import { DEFAULT_PREPROCESS, NetworkInput, preprocess, toInputTensor } from '../pipeline/preprocess';
import { DepthMap, resizeBilinearAlignCorners } from '../pipeline/postprocess';
import { RgbImage } from '../pipeline/rgb';
import { StateDict, WeightsError } from '../weights/state_dict';
import { ZoePredictOptions, predictZoe } from '../pipeline/zoe_predict';
import { BrowserBackendInfo, BrowserBackendName, initBrowserBackend } from '../backends/browser';
import { BrowserImageInput, loadBrowserImage } from './image';
import { DownloadProgress, fetchWeights, weightsFromBytes } from './weights';

/** Weights already in memory: official key names, PyTorch shapes. */
export interface WeightsInMemory {
  stateDict: StateDict;
  config?: ModelConfig;
  source?: string;
}

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

export interface BrowserPredictOptions extends ZoePredictOptions {
  /** Lower bound of the network input's sides, a multiple of 14. Default 518 (official). V1 metric models resize to their img_size instead. */
  inputSize?: number;
}

function sourceName(w: BrowserWeightsInput): string {
  if (typeof w === 'string') return w;
  if (w instanceof URL) return w.href;
  if (typeof File !== 'undefined' && w instanceof File) return w.name;
  if (typeof Blob !== 'undefined' && w instanceof Blob) return '<blob>';
  return '<buffer>';
}

async function readWeights(w: Exclude<BrowserWeightsInput, WeightsInMemory>, opts: BrowserLoadOptions): Promise<Uint8Array> {
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
  return new Error(`the ${backend} backend ran out of GPU memory on a ${width}x${height} network input (${msg.split('\n')[0]}); use a smaller input size or the wasm backend`);
}

export class DepthAnything {
  private weights: DepthAnythingWeights | null;

  private constructor(weights: DepthAnythingWeights, readonly config: ModelConfig, readonly backend: BrowserBackendInfo, readonly source: string) {
    this.weights = weights;
  }

  static async load(weights: BrowserWeightsInput, opts: BrowserLoadOptions = {}): Promise<DepthAnything> {
    const backend: BrowserBackendInfo = opts.backend !== undefined || !tf.engine().backendName
      ? await initBrowserBackend(opts.backend ?? 'auto', { wasmPaths: opts.wasmPaths })
      : { name: tf.getBackend() as BrowserBackendInfo['name'], description: tf.getBackend() };
    const given = typeof opts.config === 'string' ? VARIANTS[opts.config] : opts.config;
    if (typeof opts.config === 'string' && !given) throw new WeightsError(`unknown variant "${opts.config}"; expected one of ${Object.keys(VARIANTS).join(', ')}`);
    let stateDict: StateDict;
    let config: ModelConfig | undefined;
    let source: string;
    if (typeof weights === 'object' && weights !== null && 'stateDict' in weights) {
      stateDict = weights.stateDict;
      config = given ?? weights.config;
      source = weights.source ?? '<weights in memory>';
    } else {
      source = opts.name ?? sourceName(weights);
      const bytes = await readWeights(weights, opts);
      const read = await weightsFromBytes(bytes, source, { config: given, hfConfig: opts.hfConfig, version: opts.version, maxDepth: opts.maxDepth });
      stateDict = read.stateDict;
      config = read.config;
      if (!config) throw new WeightsError(read.configProblem ?? `${source}: no model configuration; pass { config }`);
    }
    if (!config) throw new WeightsError(`${source}: no model configuration; pass { config } (a ModelConfig or a variant name such as 'v2-vits')`);
    return new DepthAnything(bindWeights(stateDict, config, source), config, backend, source);
  }

  get metric(): boolean {
    return isMetric(this.config);
  }

  private live(): DepthAnythingWeights {
    if (!this.weights) throw new Error('DepthAnything: this model was disposed');
    return this.weights;
  }

  /** The exact network input (the official `image2tensor`), NHWC float32. */
  async preprocess(image: BrowserImageInput, opts: BrowserPredictOptions = {}): Promise<NetworkInput> {
    return preprocess(await loadBrowserImage(image), { inputSize: opts.inputSize ?? DEFAULT_PREPROCESS.inputSize });
  }

  /** Depth at the image's own size (relative: larger is nearer; metric: metres). */
  async predict(image: BrowserImageInput, opts: BrowserPredictOptions = {}): Promise<DepthMap> {
    return (await this.predictWithImage(image, opts)).depth;
  }

  /** `predict`, also returning the decoded RGB (for the point cloud and side-by-side views). */
  async predictWithImage(image: BrowserImageInput, opts: BrowserPredictOptions = {}): Promise<{ depth: DepthMap; image: RgbImage }> {
    const w = this.live();
    const img = await loadBrowserImage(image);
    // V1 metric (ZoeDepth): the official infer (padding + flip), as in Node (src/pipeline/zoe_predict.ts).
    if (this.config.zoe) {
      try {
        return { depth: await predictZoe(w, this.config, img, opts), image: img };
      } catch (e) {
        throw gpuMemoryError(e, this.backend.name, img.width, img.height);
      }
    }
    const input = preprocess(img, { inputSize: opts.inputSize ?? DEFAULT_PREPROCESS.inputSize });
    let net: Float32Array;
    try {
      const out = tf.tidy(() => forward(w, this.config, toInputTensor(input)));
      try {
        net = (await out.data()) as Float32Array;
      } finally {
        out.dispose();
      }
    } catch (e) {
      throw gpuMemoryError(e, this.backend.name, input.width, input.height);
    }
    const data = resizeBilinearAlignCorners(net, input.height, input.width, img.height, img.width);
    return { depth: { data, width: img.width, height: img.height, metric: this.metric }, image: img };
  }

  dispose(): void {
    if (this.weights) disposeWeights(this.weights);
    this.weights = null;
  }
}
