/**
 * "Live video depth": a webcam (getUserMedia) or a local video file, each new frame sent to Video
 * Depth Anything's streaming mode (`infer_video_depth_one`) in a Web Worker (VdaWorker), the
 * colourised depth drawn as it arrives, with frames per second. A standalone module: it builds its
 * own UI inside `root` and starts its own worker.
 *
 *   import { mountStream } from './stream.js';
 *   const s = mountStream(document.getElementById('root')!);
 *
 * Each video frame is processed at most once: a requestVideoFrameCallback chain counts the frames
 * the <video> presents, and the loop takes the next one only after the previous depth came back
 * (frames that arrive meanwhile are skipped, as a live source must be).
 */
import { presetSelect } from './preset_select';
import { VdaWorker } from '../src/browser/worker_models_client';
import type { BrowserBackendName } from '../src/backends/browser';
import { drawDepth } from '../src/browser/outputs';
import { drawableToRgb } from '../src/browser/image';
import type { DepthMap } from '../src/pipeline/postprocess';
import type { RgbImage } from '../src/pipeline/rgb';
import { VdaConfig, vdaConfigFromJson } from '../src/config/vda';

export interface StreamOptions {
  workerUrl?: string;
  wasmPaths?: string;
  backend?: BrowserBackendName;
  /** The pipeline's input_size (default 518). */
  inputSize?: number;
  /** Official models offered in a list (the demo page passes web/presets.ts presetsFor). */
  presets?: ReadonlyArray<{ label: string; url: string }>;
  /** Called with each frame sent and its depth (scripts, tests). */
  onFrame?: (frame: { index: number; rgb: RgbImage; depth: DepthMap }) => void;
}

export interface StreamState {
  status: 'idle' | 'loading' | 'ready' | 'streaming' | 'stopped' | 'error';
  message: string;
  frames: number;
  fps: number;
  /** Live tensors in the worker: after the load, and after the stream was reset. */
  workerTensors: { loaded: number; afterReset: number | null } | null;
}

export interface StreamHandle {
  state(): StreamState;
  /** Loads the weights (a File or URL) in the worker; `config`: a config.json (File or parsed) for a layout that is not a released one. */
  load(weights: File | string, config?: File | unknown): Promise<void>;
  /** Streams from a MediaStream (a webcam, a canvas's captureStream). */
  useMediaStream(stream: MediaStream): Promise<void>;
  /** Streams from a local video file. */
  useVideoFile(file: File): Promise<void>;
  /** Stops the loop and frees the temporal cache in the worker (the next start is a new stream). */
  stop(): Promise<void>;
  destroy(): void;
}

type FrameCallbackVideo = HTMLVideoElement & { requestVideoFrameCallback(cb: (now: number, meta: { presentedFrames: number }) => void): number };

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

export function mountStream(root: HTMLElement, opts: StreamOptions = {}): StreamHandle {
  const workerUrl = opts.workerUrl ?? new URL('/dist/browser/depth-anything.worker.mjs', location.href).href;
  const wasmPaths = opts.wasmPaths ?? new URL('/dist/wasm/', location.href).href;
  const state: StreamState = { status: 'idle', message: 'choose a Video Depth Anything weights file (or URL), then a webcam or a video file', frames: 0, fps: 0, workerTensors: null };

  const weightsFile = el('input', { type: 'file', accept: '.pth,.safetensors' });
  weightsFile.dataset.role = 'weights';
  const weightsUrl = el('input', { type: 'url', placeholder: 'or a weights URL', size: 40 });
  const configFile = el('input', { type: 'file', accept: '.json' });
  configFile.dataset.role = 'config';
  const loadButton = el('button', { textContent: 'Load' });
  const backend = el('select');
  for (const b of ['webgl', 'webgpu', 'wasm', 'cpu', 'auto']) backend.append(el('option', { value: b, textContent: b }));
  backend.value = opts.backend ?? 'webgl';
  const camera = el('button', { textContent: 'Webcam' });
  const videoFile = el('input', { type: 'file', accept: 'video/*' });
  videoFile.dataset.role = 'video';
  const stopButton = el('button', { textContent: 'Stop' });
  const status = el('p', { textContent: state.message });
  status.dataset.role = 'status';
  const fps = el('span', { textContent: '' });
  fps.dataset.role = 'fps';
  const video = el('video', { muted: true, playsInline: true, width: 320 }) as FrameCallbackVideo;
  const canvas = el('canvas');
  canvas.style.width = '320px';
  const ui = el('section', { className: 'vda-stream' },
    el('div', {}, 'Weights ', ...(opts.presets ? [presetSelect(opts.presets, weightsUrl), ' '] : []), weightsFile, ' ', weightsUrl, ' config.json (optional) ', configFile, ' backend ', backend, ' ', loadButton),
    el('div', {}, camera, ' or a video file ', videoFile, ' ', stopButton, ' ', fps),
    status, el('div', {}, video, ' ', canvas));
  root.append(ui);

  let worker: VdaWorker | null = null;
  let running = false;
  let loop: Promise<void> = Promise.resolve();
  // Frames the <video> has presented (requestVideoFrameCallback), and who waits for the next.
  let presented = 0;
  let waiter: (() => void) | null = null;
  const watch = (): void => {
    video.requestVideoFrameCallback((_now, meta) => {
      presented = meta.presentedFrames;
      const w = waiter;
      waiter = null;
      w?.();
      watch();
    });
  };
  watch();

  const setStatus = (s: StreamState['status'], message: string): void => {
    state.status = s;
    state.message = message;
    status.textContent = message;
    ui.dataset.state = s;
  };
  const fail = (e: unknown): void => { running = false; setStatus('error', e instanceof Error ? e.message : String(e)); };

  const load = async (w: File | string, configJson?: File | unknown): Promise<void> => {
    await stop();
    let config: VdaConfig | undefined;
    if (configJson !== undefined) {
      const isFile = typeof File !== 'undefined' && configJson instanceof File;
      let json = configJson;
      if (isFile) {
        try { json = JSON.parse(await (configJson as File).text()); } catch (e) { throw new Error(`${(configJson as File).name}: not valid JSON (${(e as Error).message})`); }
      }
      config = vdaConfigFromJson(json, isFile ? (configJson as File).name : 'config');
    }
    setStatus('loading', `loading ${typeof w === 'string' ? w : w.name} in a worker on ${backend.value}...`);
    worker?.terminate();
    worker = null;
    worker = await VdaWorker.load(w, { backend: backend.value as BrowserBackendName, wasmPaths, worker: workerUrl, ...(config ? { config } : {}) });
    state.workerTensors = { loaded: (await worker.memory()).numTensors, afterReset: null };
    const c = worker.config;
    setStatus('ready', `${worker.source}: Video Depth Anything ${c.model.encoder}${c.metric ? ' metric' : ''} on ${worker.backend.description} in a worker`);
  };

  const run = async (): Promise<void> => {
    const w = worker;
    if (!w) throw new Error('load a Video Depth Anything weights file first');
    let seen = 0;
    const t0 = performance.now();
    state.frames = 0;
    setStatus('streaming', 'streaming...');
    while (running) {
      if (presented <= seen) await new Promise<void>((r) => { waiter = r; });
      if (!running) break;
      seen = presented;
      // The frame the <video> shows now, as RGB (the worker gets the pixels, not the element).
      const rgb = drawableToRgb(video, 'video frame');
      const sent = { data: rgb.data.slice(), width: rgb.width, height: rgb.height };
      const { depth, index } = await w.streamFrame(sent, opts.inputSize ? { inputSize: opts.inputSize } : {});
      drawDepth(canvas, depth);
      state.frames = index + 1;
      state.fps = state.frames / ((performance.now() - t0) / 1000);
      fps.textContent = `${state.frames} frames, ${state.fps.toFixed(1)} fps`;
      opts.onFrame?.({ index, rgb, depth });
    }
  };

  const start = async (source: () => void): Promise<void> => {
    await stop();
    if (!worker) throw new Error('load a Video Depth Anything weights file first');
    source();
    await video.play();
    running = true;
    loop = run().catch(fail);
  };

  async function stop(): Promise<void> {
    if (!running) return;
    running = false;
    waiter?.();
    await loop;
    video.pause();
    if (worker) {
      await worker.resetStream();
      if (state.workerTensors) state.workerTensors.afterReset = (await worker.memory()).numTensors;
    }
    setStatus('stopped', `stopped after ${state.frames} frames (${state.fps.toFixed(1)} fps)`);
  }

  const useMediaStream = (stream: MediaStream): Promise<void> => start(() => { video.src = ''; video.srcObject = stream; });
  const useVideoFile = (file: File): Promise<void> => start(() => { video.srcObject = null; video.src = URL.createObjectURL(file); });

  loadButton.addEventListener('click', () => {
    const w = weightsFile.files?.[0] ?? (weightsUrl.value.trim() || null);
    if (!w) return fail(new Error('choose a Video Depth Anything weights file, or give its URL'));
    load(w, configFile.files?.[0]).catch(fail);
  });
  camera.addEventListener('click', () => {
    navigator.mediaDevices.getUserMedia({ video: true, audio: false }).then(useMediaStream).catch(fail);
  });
  videoFile.addEventListener('change', () => { const f = videoFile.files?.[0]; if (f) useVideoFile(f).catch(fail); });
  stopButton.addEventListener('click', () => { stop().catch(fail); });

  return {
    state: () => ({ ...state, workerTensors: state.workerTensors && { ...state.workerTensors } }),
    load, useMediaStream, useVideoFile, stop,
    destroy: () => { running = false; worker?.terminate(); ui.remove(); },
  };
}
