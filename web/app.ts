/**
 * The demo page (web/index.html), served by `npx depth-anything serve`. Everything runs in the
 * page: the model loads from a URL (kept in Cache Storage) or a local file, images from a file,
 * a drop or the webcam. Errors are shown in one sentence and the page keeps working.
 * The model runs in a Web Worker (DepthAnythingWorker), so the page stays responsive while it loads
 * and runs; `?worker=0` runs it on the page's main thread instead (for comparison).
 * State for tests and the curious: `window.depthDemo`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as THREE from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
import {
  BrowserBackendInfo, BrowserBackendName, BrowserPredictOptions, ColormapName, DepthAnything, DepthAnythingWorker, DepthMap,
  ModelConfig, RgbImage, StateDict, clearWeightsCache, depthToNpyBlob, depthToPlyBlob, depthToPng16Blob, depthToPointCloud, drawDepth, fetchWeights, weightsFromBytes,
} from '../src/browser/index';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const WASM_PATHS = new URL('/dist/wasm/', location.href).href;
const WORKER_URL = new URL('/dist/browser/depth-anything.worker.mjs', location.href).href;
const IN_WORKER = new URLSearchParams(location.search).get('worker') !== '0';

/** What the page needs of a model, in the worker (default) or on the main thread (?worker=0). */
interface DemoModel {
  backend: BrowserBackendInfo;
  config: ModelConfig;
  metric: boolean;
  predictWithImage(image: Blob | RgbImage | HTMLCanvasElement, opts: BrowserPredictOptions): Promise<{ depth: DepthMap; image: RgbImage }>;
  numTensors(): Promise<number>;
  close(): void;
}

function workerModel(m: DepthAnythingWorker): DemoModel {
  return {
    backend: m.backend, config: m.config, metric: m.metric,
    predictWithImage: (image, opts) => m.predictWithImage(image, opts),
    numTensors: () => m.numTensors(),
    // All the worker's memory (the wasm heap included) goes with it.
    close: () => m.terminate(),
  };
}

function mainThreadModel(m: DepthAnything): DemoModel {
  return {
    backend: m.backend, config: m.config, metric: m.metric,
    predictWithImage: (image, opts) => m.predictWithImage(image, opts),
    // engine state, not tf.memory(): that would start the highest-priority backend before the user picks one.
    numTensors: async () => tf.engine().state.numTensors,
    close: () => m.dispose(),
  };
}

interface DemoState {
  model: DemoModel | null;
  /** True when the model runs in a Web Worker. */
  inWorker: boolean;
  depth: DepthMap | null;
  image: RgbImage | null;
  /** ms for the last predict (decode + preprocess + network + resize). */
  lastMs: number | null;
  lastError: string | null;
  backend: string | null;
  /** Live tensors where the model runs (the worker's engine, or the page's with ?worker=0). */
  numTensors(): Promise<number>;
  /** The last depth as base64 float32 (for the browser test). */
  depthBase64(): string | null;
}

const state: DemoState = {
  model: null, inWorker: IN_WORKER, depth: null, image: null, lastMs: null, lastError: null, backend: null,
  numTensors: async () => (state.model ? state.model.numTensors() : IN_WORKER ? 0 : tf.engine().state.numTensors),
  depthBase64: () => {
    if (!state.depth) return null;
    const b = new Uint8Array(state.depth.data.buffer, state.depth.data.byteOffset, state.depth.data.byteLength);
    let s = '';
    for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
    return btoa(s);
  },
};
(window as unknown as { depthDemo: DemoState }).depthDemo = state;

// The weights (read once) are kept so a backend change rebuilds the model without reading again:
// the file's bytes for the worker (a copy goes to each new worker), the parsed tensors on the main thread.
let weights: { bytes: Uint8Array; hfConfig: unknown; name: string; read?: { stateDict: StateDict; config: ModelConfig } } | null = null;
let busy = false;

function setState(s: 'idle' | 'loading' | 'ready' | 'running' | 'done' | 'error'): void {
  document.body.dataset.state = s;
}
function status(msg: string): void { stopTicker(); $('status').textContent = msg; }

// While the model loads or runs, the status counts the seconds: it keeps moving because the page
// is not blocked (with ?worker=0 it stands still until the run ends).
let ticker: ReturnType<typeof setInterval> | undefined;
function stopTicker(): void { if (ticker !== undefined) clearInterval(ticker); ticker = undefined; }
function statusTicking(msg: string): void {
  status(msg);
  const t0 = performance.now();
  ticker = setInterval(() => { $('status').textContent = `${msg} ${((performance.now() - t0) / 1000).toFixed(0)} s`; }, 250);
}
function showError(e: unknown): void {
  stopTicker();
  // One sentence: the library's errors already name the file and what was expected.
  const msg = e instanceof Error ? e.message : String(e);
  state.lastError = msg;
  $('error').textContent = msg.split('\n')[0];
  setState('error');
}
function clearError(): void { state.lastError = null; $('error').textContent = ''; }

async function withBusy(what: string, fn: () => Promise<void>): Promise<void> {
  if (busy) { status(`busy (${what} waits for the current run)`); return; }
  busy = true;
  clearError();
  try {
    await fn();
  } catch (e) {
    showError(e);
  } finally {
    busy = false;
  }
}

async function buildModel(): Promise<void> {
  if (!weights) return;
  setState('loading');
  const backend = ($('backend') as HTMLSelectElement).value as BrowserBackendName;
  statusTicking(`${IN_WORKER ? 'reading the weights and building the model in a worker' : 'building the model'} on ${backend}...`);
  const t0 = performance.now();
  let model: DemoModel;
  if (IN_WORKER) {
    // A new worker per model; the old one is ended once the new one works (a wrong file keeps it).
    model = workerModel(await DepthAnythingWorker.load(weights.bytes, { backend, wasmPaths: WASM_PATHS, name: weights.name, hfConfig: weights.hfConfig, worker: WORKER_URL, transfer: false }));
  } else {
    if (!weights.read) {
      const read = await weightsFromBytes(weights.bytes, weights.name, { hfConfig: weights.hfConfig });
      if (!read.config) throw new Error(read.configProblem ?? `${weights.name}: no model configuration`);
      weights.read = { stateDict: read.stateDict, config: read.config };
    }
    state.model?.close();
    state.model = null;
    model = mainThreadModel(await DepthAnything.load({ stateDict: weights.read.stateDict, config: weights.read.config, source: weights.name }, { backend, wasmPaths: WASM_PATHS }));
  }
  state.model?.close();
  state.model = model;
  state.backend = model.backend.description;
  const c = model.config;
  status(`${weights.name}: ${c.version} ${c.encoder}${model.metric ? `, metric (max ${c.maxDepth} m)` : ', relative'} on ${model.backend.description}${IN_WORKER ? ' in a worker' : ' on the main thread'}, ready in ${((performance.now() - t0) / 1000).toFixed(1)} s${model.backend.warning ? ` (${model.backend.warning})` : ''}`);
  $('focal-row').classList.toggle('hidden', !model.metric);
  setState('ready');
}

async function loadModelFrom(source: File | string): Promise<void> {
  const progress = $('progress') as HTMLProgressElement;
  const name = typeof source === 'string' ? source.split('/').pop() || source : source.name;
  setState('loading');
  let bytes: Uint8Array;
  let hfConfig: unknown;
  if (typeof source === 'string') {
    progress.classList.remove('hidden');
    progress.removeAttribute('value');
    try {
      bytes = await fetchWeights(source, {
        onProgress: ({ loaded, total, cached }) => {
          if (total) progress.value = loaded / total;
          status(`${cached ? 'reading from cache' : 'downloading'} ${name}: ${(loaded / 1e6).toFixed(1)}${total ? ` / ${(total / 1e6).toFixed(1)}` : ''} MB`);
        },
      });
    } finally {
      progress.classList.add('hidden');
    }
    // Hugging Face repositories keep the configuration beside model.safetensors.
    if (/\/model\.safetensors(\?|$)/.test(source)) {
      const res = await fetch(source.replace(/model\.safetensors(\?.*)?$/, 'config.json')).catch(() => null);
      if (res?.ok) hfConfig = await res.json();
    }
  } else {
    status(`reading ${name}...`);
    bytes = new Uint8Array(await source.arrayBuffer());
  }
  // The old model and weights stay until the new ones work (a wrong file keeps them).
  const previous = weights;
  weights = { bytes, hfConfig, name };
  try {
    await buildModel();
  } catch (e) {
    weights = previous;
    throw e;
  }
  if (state.image) await runImage({ rgb: state.image });
}

// ---------------------------------------------------------------------------------------------
// Prediction and display.

async function runImage(input: { file?: Blob; source?: CanvasImageSource; rgb?: RgbImage }): Promise<void> {
  if (!state.model) { status('load a model first'); if (input.file) pendingImage = input.file; return; }
  setState('running');
  statusTicking(`estimating depth${IN_WORKER ? ' (in a worker; the page stays usable)' : ''}...`);
  const inputSize = Number(($('input-size') as HTMLInputElement).value) || 518;
  const t0 = performance.now();
  const img = input.file ?? input.rgb ?? (input.source as HTMLCanvasElement);
  const { depth, image } = await state.model.predictWithImage(img, { inputSize });
  state.lastMs = performance.now() - t0;
  state.depth = depth;
  state.image = image;
  show();
  status(`${depth.width}x${depth.height}: ${state.lastMs.toFixed(0)} ms on ${state.backend}${IN_WORKER ? ' in a worker' : ''} (decode + network + resize)`);
  setState('done');
}
let pendingImage: Blob | null = null;

function show(): void {
  const { depth, image } = state;
  if (!depth || !image) return;
  const ic = $('image-canvas') as HTMLCanvasElement;
  ic.width = image.width;
  ic.height = image.height;
  const rgba = new Uint8ClampedArray(image.width * image.height * 4);
  for (let i = 0; i < image.width * image.height; i++) {
    rgba[i * 4] = image.data[i * 3]; rgba[i * 4 + 1] = image.data[i * 3 + 1]; rgba[i * 4 + 2] = image.data[i * 3 + 2]; rgba[i * 4 + 3] = 255;
  }
  ic.getContext('2d')!.putImageData(new ImageData(rgba, image.width, image.height), 0, 0);
  drawDepth($('depth-canvas') as HTMLCanvasElement, depth, ($('colormap') as HTMLSelectElement).value as ColormapName);
  $('empty').classList.add('hidden');
  $('viewer').classList.remove('hidden');
  $('slider').classList.remove('hidden');
  applySlider();
  const min = depth.data.reduce((a, b) => Math.min(a, b), Infinity);
  const max = depth.data.reduce((a, b) => Math.max(a, b), -Infinity);
  $('info').querySelector('small')!.textContent = depth.metric
    ? `metric depth: ${min.toFixed(2)} to ${max.toFixed(2)} m`
    : `relative depth (larger is nearer): ${min.toPrecision(4)} to ${max.toPrecision(4)}`;
  for (const id of ['dl-png16', 'dl-npy']) ($(id) as HTMLButtonElement).disabled = false;
  ($('dl-ply') as HTMLButtonElement).disabled = !depth.metric;
  if (depth.metric) showCloud(); else $('cloud').classList.add('hidden');
}

function applySlider(): void {
  const v = Number(($('slider') as HTMLInputElement).value);
  // The picture shows left of the handle, the depth right of it.
  $('depth-canvas').style.clipPath = `inset(0 0 0 ${v}%)`;
}

// ---------------------------------------------------------------------------------------------
// Metric point cloud (three.js).

let three: { renderer: THREE.WebGLRenderer; scene: THREE.Scene; camera: THREE.PerspectiveCamera; controls: OrbitControls; points?: THREE.Points } | null = null;

function showCloud(): void {
  const { depth, image } = state;
  if (!depth || !image) return;
  const f = Number(($('focal') as HTMLInputElement).value);
  let cloud;
  try {
    cloud = depthToPointCloud(depth, image, { fx: f, fy: f });
  } catch (e) {
    showError(e);
    return;
  }
  const el = $('cloud');
  el.classList.remove('hidden');
  if (!three) {
    let renderer: THREE.WebGLRenderer;
    try {
      renderer = new THREE.WebGLRenderer({ antialias: false });
    } catch {
      el.textContent = 'no WebGL for the 3D view';
      return;
    }
    renderer.setSize(el.clientWidth, el.clientHeight);
    el.appendChild(renderer.domElement);
    const scene = new THREE.Scene();
    const camera = new THREE.PerspectiveCamera(60, el.clientWidth / el.clientHeight, 0.01, 1000);
    const controls = new OrbitControls(camera, renderer.domElement);
    three = { renderer, scene, camera, controls };
    const loop = (): void => { controls.update(); renderer.render(scene, camera); requestAnimationFrame(loop); };
    loop();
  }
  // At most ~400k points: every k-th pixel.
  const n = depth.width * depth.height;
  const step = Math.max(1, Math.ceil(Math.sqrt(n / 400_000)));
  const pos: number[] = [];
  const col: number[] = [];
  let zSum = 0;
  for (let v = 0; v < depth.height; v += step) {
    for (let u = 0; u < depth.width; u += step) {
      const i = v * depth.width + u;
      // Camera looks down -z in three.js; y up.
      pos.push(cloud.positions[i * 3], -cloud.positions[i * 3 + 1], -cloud.positions[i * 3 + 2]);
      col.push(cloud.colors[i * 3] / 255, cloud.colors[i * 3 + 1] / 255, cloud.colors[i * 3 + 2] / 255);
      zSum += cloud.positions[i * 3 + 2];
    }
  }
  const geom = new THREE.BufferGeometry();
  geom.setAttribute('position', new THREE.Float32BufferAttribute(pos, 3));
  geom.setAttribute('color', new THREE.Float32BufferAttribute(col, 3));
  if (three.points) { three.scene.remove(three.points); three.points.geometry.dispose(); }
  three.points = new THREE.Points(geom, new THREE.PointsMaterial({ size: 2, vertexColors: true, sizeAttenuation: false }));
  three.scene.add(three.points);
  const zMean = zSum / (pos.length / 3);
  // A little behind the pinhole, looking at the middle of the scene (OrbitControls to turn it).
  three.camera.position.set(0, 0, zMean * 0.3);
  three.controls.target.set(0, 0, -zMean);
  three.controls.update();
}

// ---------------------------------------------------------------------------------------------
// Downloads.

function download(blob: Blob, name: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

// ---------------------------------------------------------------------------------------------
// Controls.

$('model-preset').addEventListener('change', () => {
  const v = ($('model-preset') as HTMLSelectElement).value;
  if (v) { ($('model-url') as HTMLInputElement).value = v; void withBusy('model', () => loadModelFrom(v)); }
});
$('model-load').addEventListener('click', () => {
  const url = ($('model-url') as HTMLInputElement).value.trim();
  if (!url) { showError(new Error('enter a model URL first')); return; }
  void withBusy('model', () => loadModelFrom(url));
});
$('cache-clear').addEventListener('click', async () => {
  const removed = await clearWeightsCache();
  status(removed ? 'downloaded models removed from the cache' : 'the cache was empty');
});
$('model-file').addEventListener('change', () => {
  const f = ($('model-file') as HTMLInputElement).files?.[0];
  if (f) void withBusy('model', async () => {
    await loadModelFrom(f);
    if (pendingImage) { const p = pendingImage; pendingImage = null; await runImage({ file: p }); }
  });
});
$('backend').addEventListener('change', () => void withBusy('backend', async () => {
  await buildModel();
  if (state.image) await runImage({ rgb: state.image });
}));
$('image-file').addEventListener('change', () => {
  const f = ($('image-file') as HTMLInputElement).files?.[0];
  if (f) void withBusy('image', () => runImage({ file: f }));
});
const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const f = e.dataTransfer?.files?.[0];
  if (f) void withBusy('image', () => runImage({ file: f }));
});
$('webcam').addEventListener('click', async () => {
  const video = $('video') as HTMLVideoElement;
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: true });
    await video.play();
    video.classList.remove('hidden');
    $('snap').classList.remove('hidden');
  } catch (e) {
    showError(new Error(`cannot open the webcam (${(e as Error).message})`));
  }
});
$('snap').addEventListener('click', () => void withBusy('webcam', async () => {
  const video = $('video') as HTMLVideoElement;
  const c = document.createElement('canvas');
  c.width = video.videoWidth;
  c.height = video.videoHeight;
  c.getContext('2d')!.drawImage(video, 0, 0);
  await runImage({ source: c });
}));
$('colormap').addEventListener('change', () => { if (state.depth) show(); });
$('slider').addEventListener('input', applySlider);
$('focal').addEventListener('change', () => { if (state.depth?.metric) showCloud(); });
$('dl-png16').addEventListener('click', async () => { if (state.depth) download(await depthToPng16Blob(state.depth), 'depth16.png'); });
$('dl-npy').addEventListener('click', () => { if (state.depth) download(depthToNpyBlob(state.depth), 'depth.npy'); });
$('dl-ply').addEventListener('click', () => {
  if (!state.depth || !state.image) return;
  const f = Number(($('focal') as HTMLInputElement).value);
  try { download(depthToPlyBlob(state.depth, state.image, { fx: f, fy: f }), 'points.ply'); } catch (e) { showError(e); }
});

// ?backend=wasm preselects a backend; ?model=URL loads one.
const params = new URLSearchParams(location.search);
if (params.get('backend')) ($('backend') as HTMLSelectElement).value = params.get('backend')!;
if (params.get('model')) { ($('model-url') as HTMLInputElement).value = params.get('model')!; void withBusy('model', () => loadModelFrom(params.get('model')!)); }
window.addEventListener('unhandledrejection', (e) => showError(e.reason));
