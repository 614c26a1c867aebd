/**
 * The messages between `DepthAnythingWorker` (the page) and the worker entry (worker.ts). Plain
 * data only (structured clone); ArrayBuffers travel in the transfer list, not copied.
 */
import type { ModelConfig, Version } from '../config/depth';
import type { DepthMap } from '../pipeline/postprocess';
import type { RgbImage } from '../pipeline/rgb';
import type { StateDict } from '../weights/state_dict';
import type { BrowserBackendInfo, BrowserBackendName } from '../backends/browser';
import type { DownloadProgress } from './weights';
import type { BrowserPredictOptions } from './depth_anything';
import type { Da3Request, VdaRequest } from './worker_models_protocol';

export type WorkerWeights =
  | { kind: 'url'; url: string }
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'memory'; stateDict: StateDict; config?: ModelConfig; source?: string };

/** BrowserLoadOptions without what cannot cross (functions, AbortSignal). */
export interface WorkerLoadMessageOptions {
  backend?: BrowserBackendName;
  wasmPaths?: string | Record<string, string>;
  config?: ModelConfig | string;
  hfConfig?: unknown;
  version?: Version;
  maxDepth?: number;
  cache?: boolean;
  name?: string;
  progress?: boolean;
}

export type WorkerRequest =
  | { id: number; op: 'load'; weights: WorkerWeights; opts: WorkerLoadMessageOptions }
  | { id: number; op: 'predict'; image: RgbImage; opts: BrowserPredictOptions }
  | { id: number; op: 'memory' }
  | { id: number; op: 'dispose' }
  // Depth Anything 3 and Video Depth Anything (worker_models_protocol.ts; handled in worker_da3.ts, worker_vda.ts).
  | Da3Request
  | VdaRequest;

export interface WorkerLoaded { config: ModelConfig; backend: BrowserBackendInfo; source: string }
export interface WorkerPredicted { depth: DepthMap; image: RgbImage }
export interface WorkerMemory { numTensors: number; numBytes: number }

export type WorkerReply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { name: string; message: string } }
  | { id: number; progress: DownloadProgress };
