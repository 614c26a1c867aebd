/**
 * The worker messages of Depth Anything 3 (several views -> depth, confidence, cameras and the
 * exporter's scene) and Video Depth Anything (streaming one frame at a time), beside the depth
 * model's (worker_protocol.ts, which lists these in its WorkerRequest). Plain data only; pixels,
 * weights and outputs travel in the transfer list.
 */
import type { BrowserBackendInfo, BrowserBackendName } from '../backends/browser';
import type { Da3Config } from '../config/da3';
import type { VdaConfig } from '../config/vda';
import type { Da3Scene, Da3SceneOptions } from '../pipeline/da3/scene';
import type { Da3Inference, Da3InferenceOptions } from '../pipeline/da3_session';
import type { DepthMap } from '../pipeline/postprocess';
import type { RgbImage } from '../pipeline/rgb';
import type { VdaOptions } from '../pipeline/vda_session';

/** Weights by URL (fetched in the worker, Cache Storage) or bytes (transferred). */
export type ModelWeightsMessage = { kind: 'url'; url: string } | { kind: 'bytes'; bytes: Uint8Array };

/** Load options that cross (no functions, no AbortSignal). */
export interface ModelLoadMessageOptions {
  backend?: BrowserBackendName;
  wasmPaths?: string | Record<string, string>;
  cache?: boolean;
  name?: string;
  progress?: boolean;
  metric?: boolean;
}

export type Da3Request =
  | { id: number; op: 'da3-load'; weights: ModelWeightsMessage; opts: ModelLoadMessageOptions & { config?: Da3Config } }
  /** `scene`: also the GLB exporter's scene with these options (false: none). */
  | { id: number; op: 'da3-inference'; images: RgbImage[]; opts: Da3InferenceOptions; scene?: Da3SceneOptions | false }
  | { id: number; op: 'da3-dispose' };

export type VdaRequest =
  | { id: number; op: 'vda-load'; weights: ModelWeightsMessage; opts: ModelLoadMessageOptions & { config?: VdaConfig } }
  | { id: number; op: 'vda-stream'; frame: RgbImage; opts: VdaOptions }
  | { id: number; op: 'vda-reset' }
  | { id: number; op: 'vda-dispose' };

export interface Da3WorkerLoaded { config: Da3Config; backend: BrowserBackendInfo; source: string; metric: boolean }
export interface Da3WorkerResult { inference: Da3Inference; scene?: Da3Scene }
export interface VdaWorkerLoaded { config: VdaConfig; backend: BrowserBackendInfo; source: string }
export interface VdaWorkerFrame { depth: DepthMap; index: number }
