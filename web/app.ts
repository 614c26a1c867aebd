/**
 * The demo page (web/index.html), served by `npx depth-anything serve`. Everything runs in the
 * page: the model loads from a URL (kept in Cache Storage, keyed by the server's validators) or a
 * local file, images from a file, a drop anywhere, the bundled example or the webcam.
 *
 * One state object drives the page. The controls only say what the visitor wants (`wanted`);
 * `pump()` brings what is loaded and shown up to it one stage at a time (download, read, build,
 * decode, run), so a change made during a stage (another backend, another photo, another input
 * size) is applied when the stage ends, never dropped; Cancel stops the work (in the worker at
 * once: its memory goes with it). `render()` draws the status, selectors and buttons from the
 * state alone. Test contract: `window.depthDemo.state()`.
 * The model runs in a Web Worker (DepthAnythingWorker), so the page stays responsive; `?worker=0`
 * runs it on the page's main thread instead (for comparison).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as THREE from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
import {
  BrowserBackendInfo, BrowserBackendName, BrowserPredictOptions, ColormapName, DepthAnything, DepthAnythingWorker, DepthMap,
  ModelConfig, RgbImage, VARIANTS, VariantName, clearWeightsCache, configFromJson, depthToNpyBlob, depthToPlyBlob, depthToPng16Blob, depthToPointCloud,
  drawDepth, fetchWeightsWithIdentity, loadBrowserImage, probeGpuBackend, sha256Hex, weightsFromBytes,
} from '../src/browser/index';
import { MODEL_PRESETS, ModelPreset, presetSize, presetUrl, presetsFor } from './presets';
import { currentMode, initModes, registerMode } from './modes';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const WASM_PATHS = new URL('/dist/wasm/', location.href).href;
const WORKER_URL = new URL('/dist/browser/depth-anything.worker.mjs', location.href).href;
const IN_WORKER = new URLSearchParams(location.search).get('worker') !== '0';
const EXAMPLE = { url: '/examples/demo01.jpg', name: 'demo01.jpg' };
const DEFAULT_PRESET = 'v2-small';

// ---------------------------------------------------------------------------------------------
// The model, in the worker (default) or on the main thread (?worker=0).

interface DemoModel {
  backend: BrowserBackendInfo;
  config: ModelConfig;
  metric: boolean;
  predictWithImage(image: RgbImage, opts: BrowserPredictOptions): Promise<{ depth: DepthMap; image: RgbImage }>;
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

// ---------------------------------------------------------------------------------------------
// State.

type ModelSource = { kind: 'url'; url: string; name: string } | { kind: 'file'; file: File; name: string };
type ImageSource = { input: Blob | HTMLCanvasElement; name: string };
type Stage = 'download' | 'read' | 'build' | 'decode' | 'run';

/** Weights read once and kept, so a backend change rebuilds the model without reading them again. */
interface Weights {
  seq: number;
  source: ModelSource;
  bytes: Uint8Array;
  sha256: string;
  /** The server's validators (URL sources), as the cache keys them. */
  identity?: string;
  cached: boolean;
  hfConfig: unknown;
  /** The configuration chosen for them in the page (files that do not say which model they are). */
  config?: ConfigChoice | null;
}

/** A configuration picked in the page: an official variant, or a config.json file. */
type ConfigChoice = { variant: VariantName } | { file: string; config: ModelConfig };
const choiceConfig = (c: ConfigChoice): ModelConfig => ('variant' in c ? VARIANTS[c.variant] : c.config);

interface Built { model: DemoModel; weightsSeq: number; backend: BrowserBackendName; config: ConfigChoice | null; seq: number }

interface Result {
  depth: DepthMap;
  image: RgbImage;
  imageName: string;
  ms: number;
  backend: string;
  inputSize: number;
}

const BACKENDS: BrowserBackendName[] = ['auto', 'webgpu', 'webgl', 'wasm', 'cpu'];

const S = {
  /** What the visitor asked for. */
  wanted: {
    source: null as ModelSource | null,
    sourceSeq: 0,
    config: null as ConfigChoice | null,
    backend: 'auto' as BrowserBackendName,
    image: null as (ImageSource & { seq: number }) | null,
    inputSize: 518,
    runSeq: 0,
  },
  /** The loaded weights (the model in use was built from them). */
  weights: null as Weights | null,
  /** Read but waiting for a configuration (the config picker is shown). */
  needsConfig: null as Weights | null,
  built: null as Built | null,
  result: null as Result | null,
  /** Runs finished, failed or cancelled, by key (not run again by themselves). */
  settled: new Set<string>(),
  /** The run in flight. */
  inflightKey: '',
  /** After Cancel nothing starts by itself until the visitor asks again. */
  halted: false,
  stage: null as Stage | null,
  stageStart: 0,
  progress: null as { loaded: number; total?: number; cached: boolean } | null,
  error: null as string | null,
  /** What the status line says when nothing runs. */
  idleNote: '',
  /** Backends the visitor confirmed despite the warning (software rendering, cpu). */
  confirmedSlow: new Set<BrowserBackendName>(),
  /** Warning for a backend, from probing it (before building on it). */
  slowWarning: new Map<BrowserBackendName, string | null>(),
  cancel: null as null | (() => void),
  cancelled: false,
  seq: 0,
  /** Each finished run, for the curious and the tests. */
  runs: [] as { image: string; backend: string; inputSize: number; ms: number }[],
  divider: 50,
};
const nextSeq = (): number => ++S.seq;

function runKey(): string {
  const w = S.wanted;
  return w.image && S.built ? `${w.image.seq}|${w.inputSize}|${S.built.seq}|${w.runSeq}` : '';
}

/** The page's test contract and state for the curious: `window.depthDemo`. */
const depthDemo = {
  inWorker: IN_WORKER,
  /** `{ model: { source, bytes, sha256 } | null, backend, busy, error }` and a little more. */
  state: () => ({
    model: S.weights ? {
      source: S.weights.source.kind === 'url' ? S.weights.source.url : S.weights.source.name, bytes: S.weights.bytes.length, sha256: S.weights.sha256,
      cached: S.weights.cached, config: S.built ? configName(S.built.model.config) : null,
    } : null,
    backend: S.built?.model.backend.name ?? null,
    wantedBackend: S.wanted.backend,
    busy: S.stage !== null,
    stage: S.stage,
    progress: S.progress,
    error: S.error,
    image: S.result?.imageName ?? null,
    needsConfig: S.needsConfig !== null,
    divider: S.divider,
  }),
  runs: S.runs,
  get depth(): DepthMap | null { return S.result?.depth ?? null; },
  get image(): RgbImage | null { return S.result?.image ?? null; },
  get lastMs(): number | null { return S.result?.ms ?? null; },
  get backend(): string | null { return S.built?.model.backend.description ?? null; },
  get lastError(): string | null { return S.error; },
  /** Live tensors where the model runs (the worker's engine, or the page's with ?worker=0). */
  numTensors: async (): Promise<number> => (S.built ? S.built.model.numTensors() : IN_WORKER ? 0 : tf.engine().state.numTensors),
  /** The last depth as base64 float32 (for the browser test). */
  depthBase64: (): string | null => {
    const d = S.result?.depth;
    if (!d) return null;
    const b = new Uint8Array(d.data.buffer, d.data.byteOffset, d.data.byteLength);
    let s = '';
    for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
    return btoa(s);
  },
  registerMode,
};
(window as unknown as { depthDemo: typeof depthDemo }).depthDemo = depthDemo;

function configName(c: ModelConfig): string {
  return `${c.version.toUpperCase()} ${c.encoder}${c.zoe ? ' ZoeDepth' : ''}${c.maxDepth !== undefined ? `, metric (max ${c.maxDepth} m)` : ', relative'}`;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0];
const isCancel = (e: unknown): boolean => S.cancelled || (e as Error)?.name === 'AbortError';

// ---------------------------------------------------------------------------------------------
// The pump: one stage at a time, towards what is wanted.

function slowBackendPending(): boolean {
  const b = S.wanted.backend;
  return Boolean(S.slowWarning.get(b)) && !S.confirmedSlow.has(b);
}

function pump(): void {
  if (S.stage !== null || S.halted) { render(); return; } // the stage in flight calls pump again when it ends
  const w = S.wanted;
  const slow = slowBackendPending();
  let job: (() => Promise<void>) | null = null;
  if (w.source && (!S.weights || w.sourceSeq !== S.weights.seq) && (!S.needsConfig || S.needsConfig.seq !== w.sourceSeq)) job = loadJob;
  else if (S.needsConfig && w.config && !slow) job = buildJob;
  else if (S.weights && !slow && S.built && S.built.backend !== w.backend) job = buildJob;
  // No model after a Cancel ended its worker: rebuilt when a photo is to be run.
  else if (S.weights && !S.built && !S.needsConfig && !slow && w.image) job = buildJob;
  else if (S.built && w.image && !S.settled.has(runKey())) job = runJob;
  if (!job) { render(); return; }
  S.cancelled = false;
  const run = job;
  void (async () => {
    try {
      await run();
    } catch (e) {
      if (isCancel(e)) S.idleNote = 'cancelled';
      else { S.error = message(e); console.warn(e); }
    } finally {
      S.stage = null;
      S.progress = null;
      S.cancel = null;
      stopTicker();
    }
    pump();
  })();
}

function enter(stage: Stage, cancel: (() => void) | null = null): void {
  if (S.cancelled) throw Object.assign(new Error('cancelled'), { name: 'AbortError' });
  S.stage = stage;
  if (stage !== 'download') S.progress = null;
  S.stageStart = performance.now();
  S.cancel = cancel;
  startTicker();
  render();
}

async function loadJob(): Promise<void> {
  const src = S.wanted.source!;
  const seq = S.wanted.sourceSeq;
  S.error = null;
  const abort = new AbortController();
  let bytes: Uint8Array;
  let identity: string | undefined;
  let cached = false;
  let hfConfig: unknown;
  try {
    if (src.kind === 'url') {
      enter('download', () => abort.abort());
      S.progress = { loaded: 0, cached: false };
      const got = await fetchWeightsWithIdentity(src.url, { signal: abort.signal, onProgress: (p) => { S.progress = p; renderStatus(); } });
      ({ bytes, identity, cached } = got);
      // Hugging Face repositories keep the configuration beside model.safetensors.
      if (/\/model\.safetensors(\?|$)/.test(src.url)) {
        const res = await fetch(src.url.replace(/model\.safetensors(\?.*)?$/, 'config.json')).catch(() => null);
        if (res?.ok) hfConfig = await res.json();
      }
    } else {
      enter('read');
      bytes = new Uint8Array(await src.file.arrayBuffer());
    }
    enter('read');
    const sha256 = await sha256Hex(bytes);
    const weights: Weights = { seq, source: src, bytes, sha256, identity, cached, hfConfig };
    // A newer pick during the download: that one is loaded next.
    if (S.wanted.sourceSeq !== seq) return;
    S.wanted.config = null;
    await build(weights);
  } catch (e) {
    // The model in use stays (a wrong file keeps the one that works); the controls show it again.
    if (S.wanted.sourceSeq === seq && S.needsConfig?.seq !== seq) { S.wanted.source = S.weights?.source ?? null; S.wanted.sourceSeq = S.weights?.seq ?? 0; }
    throw e;
  }
}

async function buildJob(): Promise<void> {
  S.error = null;
  const weights = S.needsConfig && S.needsConfig.seq === S.wanted.sourceSeq ? S.needsConfig : S.weights!;
  await build(weights);
}

const configProblem = (msg: string): boolean => /; pass --(config|version)\b/.test(msg);

/** Builds the model from `weights` on the wanted backend; replaces the one in use only when it works. */
async function build(weights: Weights): Promise<void> {
  const backend = S.wanted.backend;
  const config = weights === S.needsConfig ? S.wanted.config : weights.config ?? null;
  const abort = new AbortController();
  enter('build', IN_WORKER ? () => abort.abort() : null);
  const t0 = performance.now();
  let model: DemoModel;
  try {
    const name = weights.source.name;
    if (IN_WORKER) {
      // A new worker per model; the old one is ended once the new one works.
      model = workerModel(await DepthAnythingWorker.load(weights.bytes, {
        backend, wasmPaths: WASM_PATHS, name, hfConfig: weights.hfConfig, worker: WORKER_URL, transfer: false, signal: abort.signal,
        ...(config ? { config: 'variant' in config ? config.variant : config.config } : {}),
      }));
    } else {
      const read = await weightsFromBytes(weights.bytes, name, { hfConfig: weights.hfConfig, ...(config ? { config: choiceConfig(config) } : {}) });
      if (!read.config) throw new Error(read.configProblem ?? `${name}: no model configuration`);
      S.built?.model.close();
      S.built = null;
      model = mainThreadModel(await DepthAnything.load({ stateDict: read.stateDict, config: read.config, source: name }, { backend, wasmPaths: WASM_PATHS }));
    }
  } catch (e) {
    const msg = message(e);
    if (isCancel(e)) throw e;
    if (configProblem(msg)) {
      // The page's own way to say what the CLI says with --config: the variant list.
      S.needsConfig = weights;
      S.wanted.config = null;
      S.wanted.source = weights.source;
      S.wanted.sourceSeq = weights.seq;
      throw new Error(`${msg.split('; pass --')[0]}: choose its configuration in the list under the model`);
    }
    // A configuration that does not fit: another choice is awaited (the loaded model stays).
    if (weights === S.needsConfig) { S.wanted.config = null; if (weights === S.weights) S.needsConfig = null; }
    S.wanted.backend = S.built?.backend ?? S.wanted.backend;
    throw e;
  }
  if (S.cancelled) { model.close(); throw Object.assign(new Error('cancelled'), { name: 'AbortError' }); }
  S.built?.model.close();
  S.built = { model, weightsSeq: weights.seq, backend, config, seq: nextSeq() };
  weights.config = config;
  S.weights = weights;
  S.needsConfig = null;
  S.idleNote = `ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`;
}

async function runJob(): Promise<void> {
  const key = runKey();
  const img = S.wanted.image!;
  const inputSize = S.wanted.inputSize;
  S.error = null;
  let rgb: RgbImage;
  S.inflightKey = key;
  try {
    enter('decode');
    rgb = await loadBrowserImage(img.input);
  } catch (e) {
    S.settled.add(key);
    // A photo that cannot be read: the one shown stays the wanted one (a backend change re-runs that).
    if (!isCancel(e) && S.wanted.image === img) S.wanted.image = lastGoodImage;
    throw e;
  }
  const built = S.built!;
  enter('run', IN_WORKER ? () => { built.model.close(); if (S.built === built) S.built = null; } : null);
  const t0 = performance.now();
  try {
    const { depth, image } = await built.model.predictWithImage(rgb, { inputSize });
    if (S.cancelled) throw Object.assign(new Error('cancelled'), { name: 'AbortError' });
    const ms = performance.now() - t0;
    S.result = { depth, image, imageName: img.name, ms, backend: built.model.backend.name, inputSize };
    lastGoodImage = img;
    S.runs.push({ image: img.name, backend: built.model.backend.name, inputSize, ms });
    S.idleNote = '';
    show();
  } finally {
    S.settled.add(key);
  }
}
let lastGoodImage: (ImageSource & { seq: number }) | null = null;

/** Cancel: stops the stage in flight (a download is aborted; in the worker the model's worker is ended, freeing all it held). */
function cancel(): void {
  if (S.stage === null) return;
  S.cancelled = true;
  S.cancel?.();
  // Nothing queued runs after a cancel: what is wanted becomes what is there.
  if (S.weights) { S.wanted.source = S.weights.source; S.wanted.sourceSeq = S.weights.seq; } else { S.wanted.source = null; }
  if (S.built) S.wanted.backend = S.built.backend;
  S.needsConfig = null;
  S.halted = true;
  render();
}

// ---------------------------------------------------------------------------------------------
// Rendering: everything the visitor sees comes from S.

let ticker: ReturnType<typeof setInterval> | undefined;
function startTicker(): void { stopTicker(); ticker = setInterval(renderStatus, 250); }
function stopTicker(): void { if (ticker !== undefined) clearInterval(ticker); ticker = undefined; }

const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;

function backendLine(b: BrowserBackendInfo): string {
  // One line: "auto" says what it passed over by name only (the renderer strings are in the title).
  const skipped = b.warning ? [...b.warning.replace(/^auto passed over /, '').matchAll(/(?:^|; )(\w+) \(/g)].map((m) => m[1]) : [];
  return `${b.name}${b.software ? ' (software rendering)' : ''}${skipped.length ? ` (auto passed over ${skipped.join(', ')})` : ''}`;
}

function statusText(): string {
  const secs = `${((performance.now() - S.stageStart) / 1000).toFixed(0)} s`;
  const w = S.wanted;
  const src = w.source?.name ?? '';
  switch (S.stage) {
    case 'download': {
      const p = S.progress;
      return `${p?.cached ? 'reading from this browser\'s cache (the server says it is the same file)' : 'downloading'} ${src}: ${mb(p?.loaded ?? 0)}${p?.total ? ` of ${mb(p.total)}` : ''}`;
    }
    case 'read': return `reading ${src}... ${secs}`;
    case 'build': return `building the model on ${w.backend}${IN_WORKER ? ' in a worker' : ''}... ${secs}`;
    case 'decode': return `reading the photo ${w.image?.name ?? ''}...`;
    case 'run': return `estimating the depth of ${S.wanted.image?.name ?? 'the photo'} on ${S.built?.model.backend.name ?? ''}${IN_WORKER ? ' (in a worker: the page stays usable)' : ''}... ${secs}`;
    default: break;
  }
  if (S.needsConfig) return `${S.needsConfig.source.name} is read: choose its configuration.`;
  if (slowBackendPending()) return `${w.backend} is slow here: see the note under the backend.`;
  if (!S.weights) return w.image ? `${w.image.name} is waiting: choose a model.` : 'Choose a model, or try the example.';
  if (S.idleNote === 'cancelled') return 'Cancelled.';
  if (!S.result) return `Model ${S.idleNote.startsWith('ready') ? S.idleNote : `ready${S.idleNote ? ` (${S.idleNote})` : ''}`}: pick or drop a photo, or try the example.`;
  const r = S.result;
  return `${r.imageName} ${r.depth.width}x${r.depth.height}: ${r.ms.toFixed(0)} ms on ${r.backend}${IN_WORKER ? ' in a worker' : ''} (decode + network + resize)`;
}

/** What is queued behind the stage in flight. */
function queuedText(): string {
  if (S.stage === null) return '';
  const q: string[] = [];
  const w = S.wanted;
  if (S.built && w.backend !== S.built.backend && S.stage !== 'build') q.push(`backend ${w.backend}`);
  if (w.source && S.weights && w.sourceSeq !== S.weights.seq && S.stage !== 'download' && S.stage !== 'read' && S.stage !== 'build') q.push(`model ${w.source.name}`);
  if ((S.stage === 'run' || S.stage === 'decode') && w.image && S.inflightKey !== runKey()) q.push(`photo ${w.image.name} at input size ${w.inputSize}`);
  return q.length ? `then: ${q.join(', ')} (applied when this step ends)` : '';
}

function renderStatus(): void {
  $('status').textContent = statusText();
  $('queued').textContent = queuedText();
  const progress = $('progress') as HTMLProgressElement;
  const p = S.progress;
  progress.classList.toggle('hidden', S.stage !== 'download');
  if (p?.total) progress.value = p.loaded / p.total; else progress.removeAttribute('value');
}

function render(): void {
  renderStatus();
  $('error').textContent = S.error ?? '';
  const busy = S.stage !== null;
  document.body.dataset.state = busy ? (S.stage === 'run' || S.stage === 'decode' ? 'running' : 'loading')
    : S.error ? 'error' : S.result && S.idleNote === '' ? 'done' : S.weights ? 'ready' : 'idle';
  ($('cancel') as HTMLButtonElement).disabled = !busy;
  ($('run') as HTMLButtonElement).disabled = !(S.weights && S.wanted.image) || busy || slowBackendPending();
  // Selectors show what is in use, or what is about to be.
  const w = S.wanted;
  const url = w.source?.kind === 'url' ? w.source.url : '';
  const preset = MODEL_PRESETS.find((p) => presetUrl(p) === url);
  ($('model-preset') as HTMLSelectElement).value = preset?.name ?? '';
  $('preset-info').textContent = preset ? presetNote(preset) : '';
  const urlBox = $('model-url') as HTMLInputElement;
  if (document.activeElement !== urlBox) urlBox.value = url;
  ($('backend') as HTMLSelectElement).value = w.backend;
  $('config-row').classList.toggle('hidden', !S.needsConfig && !S.built?.config);
  const choice = S.needsConfig ? w.config : S.built?.config;
  ($('config') as HTMLSelectElement).value = choice && 'variant' in choice ? choice.variant : '';
  const warning = S.slowWarning.get(w.backend);
  $('backend-warning').classList.toggle('hidden', !warning);
  $('backend-warning-text').textContent = warning ?? '';
  $('backend-confirm').classList.toggle('hidden', S.confirmedSlow.has(w.backend));
  const inputSize = $('input-size') as HTMLInputElement;
  if (document.activeElement !== inputSize) inputSize.value = String(w.inputSize);
  // The model in use, always in view next to the result.
  const wt = S.weights;
  $('model-line').textContent = wt
    ? `Model: ${wt.source.name} (${mb(wt.bytes.length)}, sha256 ${wt.sha256.slice(0, 12)}${wt.source.kind === 'url' ? wt.cached ? ', from this browser\'s cache' : ', downloaded' : ', local file'})`
      + (S.built ? `: ${configName(S.built.model.config)} on ${backendLine(S.built.model.backend)}${IN_WORKER ? ' in a worker' : ''}` : '')
    : '';
  $('model-line').title = S.built?.model.backend.warning ?? S.built?.model.backend.description ?? '';
  $('focal-row').classList.toggle('hidden', !S.built?.model.metric);
}

function presetNote(p: ModelPreset): string {
  return `${presetSize(p)} download, ${p.output} depth, licence ${p.licence}${p.licence === 'CC-BY-NC-4.0' ? ' (non-commercial)' : ''}; ${p.repo}`;
}

// ---------------------------------------------------------------------------------------------
// The result: picture and depth, a divider drawn on the picture.

function show(): void {
  const r = S.result;
  if (!r) return;
  const { depth, image } = r;
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
  applyDivider();
  const min = depth.data.reduce((a, b) => Math.min(a, b), Infinity);
  const max = depth.data.reduce((a, b) => Math.max(a, b), -Infinity);
  $('info').querySelector('small')!.textContent = `${r.imageName}, input size ${r.inputSize}: ` + (depth.metric
    ? `metric depth ${min.toFixed(2)} to ${max.toFixed(2)} m`
    : `relative depth (larger is nearer) ${min.toPrecision(4)} to ${max.toPrecision(4)}`);
  for (const id of ['dl-png16', 'dl-npy']) ($(id) as HTMLButtonElement).disabled = false;
  ($('dl-ply') as HTMLButtonElement).disabled = !depth.metric;
  if (depth.metric) showCloud(); else $('cloud').classList.add('hidden');
  // On a phone the result may be out of view (the visitor scrolled to the controls): bring it there.
  // Scrolled to just under the sticky status bar, which stays in view.
  const rect = $('result').getBoundingClientRect();
  const bar = $('statusbar').getBoundingClientRect().height;
  if (rect.top > window.innerHeight * 0.6 || rect.bottom < bar) window.scrollTo({ top: window.scrollY + rect.top - bar - 8, behavior: 'smooth' });
}

function applyDivider(): void {
  // The picture shows left of the divider, the depth right of it.
  $('depth-canvas').style.clipPath = `inset(0 0 0 ${S.divider}%)`;
  const d = $('divider');
  d.style.left = `${S.divider}%`;
  d.setAttribute('aria-valuenow', String(Math.round(S.divider)));
}

function dividerFromPointer(e: PointerEvent): void {
  const rect = $('viewer').getBoundingClientRect();
  S.divider = Math.min(100, Math.max(0, ((e.clientX - rect.left) / rect.width) * 100));
  applyDivider();
}
{
  const viewer = $('viewer');
  let dragging = false;
  viewer.addEventListener('pointerdown', (e) => { dragging = true; viewer.setPointerCapture(e.pointerId); dividerFromPointer(e); });
  viewer.addEventListener('pointermove', (e) => { if (dragging) dividerFromPointer(e); });
  const end = (): void => { dragging = false; };
  viewer.addEventListener('pointerup', end);
  viewer.addEventListener('pointercancel', end);
  $('divider').addEventListener('keydown', (e) => {
    const step = e.key === 'ArrowLeft' ? -5 : e.key === 'ArrowRight' ? 5 : 0;
    if (!step) return;
    e.preventDefault();
    S.divider = Math.min(100, Math.max(0, S.divider + step));
    applyDivider();
  });
}

// ---------------------------------------------------------------------------------------------
// Metric point cloud (three.js).

let three: { renderer: THREE.WebGLRenderer; scene: THREE.Scene; camera: THREE.PerspectiveCamera; controls: OrbitControls; points?: THREE.Points } | null = null;

function showCloud(): void {
  const r = S.result;
  if (!r) return;
  const { depth, image } = r;
  const f = Number(($('focal') as HTMLInputElement).value);
  let cloud;
  try {
    cloud = depthToPointCloud(depth, image, { fx: f, fy: f });
  } catch (e) {
    S.error = message(e);
    render();
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
// Downloads, named after the photo.

function download(blob: Blob, suffix: string): void {
  const stem = (S.result?.imageName ?? 'depth').replace(/\.[^.]*$/, '').replace(/[^\w.-]+/g, '_') || 'depth';
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = `${stem}_${suffix}`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

// ---------------------------------------------------------------------------------------------
// Controls: each one only changes what is wanted, then pumps.

/** The visitor asked for something: whatever Cancel held back may start again. */
function asked(): void {
  S.halted = false;
  S.error = null;
  S.idleNote = '';
}

function wantModel(source: ModelSource): void {
  asked();
  S.wanted.source = source;
  S.wanted.sourceSeq = nextSeq();
  pump();
}

function wantImage(image: ImageSource): void {
  asked();
  S.wanted.image = { ...image, seq: nextSeq() };
  pump();
}

function wantConfig(c: ConfigChoice): void {
  asked();
  S.wanted.config = c;
  // A different configuration for the loaded weights: rebuilt with it.
  if (!S.needsConfig && S.weights) S.needsConfig = S.weights;
  pump();
}

function wantModelFile(f: File): void {
  wantModel({ kind: 'file', file: f, name: f.name });
}

const isModelFile = (f: File): boolean => /\.(safetensors|pth|pt|bin|ckpt)$/i.test(f.name);

/** Checks a backend before it is used: cpu is always slow, webgl/webgpu may run on a software renderer. */
async function checkBackend(b: BrowserBackendName): Promise<void> {
  if (S.slowWarning.has(b)) return;
  let warning: string | null = null;
  if (b === 'cpu') warning = 'cpu is the plain-JavaScript backend, the slowest one (often 10-80x slower than wasm): wasm is recommended.';
  else if (b === 'webgl' || b === 'webgpu') {
    const p = await probeGpuBackend(b);
    const renderer = /swiftshader/i.test(p.detail) ? 'SwiftShader' : /llvmpipe/i.test(p.detail) ? 'llvmpipe' : p.detail.slice(0, 60);
    if (p.available && p.software) warning = `${b} here runs on a software renderer (${renderer}), no GPU: expect 20-80x slower than wasm. wasm is recommended.`;
  }
  S.slowWarning.set(b, warning);
}

async function wantBackend(b: BrowserBackendName, confirmed = false): Promise<void> {
  // Probed first (milliseconds), so nothing is built on a slow backend before the warning shows.
  await checkBackend(b);
  asked();
  S.wanted.backend = b;
  if (confirmed) S.confirmedSlow.add(b);
  pump();
}

function fillPresets(): void {
  const select = $('model-preset') as HTMLSelectElement;
  const groups = new Map<string, HTMLOptGroupElement>();
  for (const p of MODEL_PRESETS.filter((m) => m.mode === 'single')) {
    const group = p.output === 'metric' ? `Metric (metres): ${p.name.startsWith('v1') ? 'V1' : 'V2'}` : p.name.startsWith('v1') ? 'Depth Anything V1 (relative)' : 'Depth Anything V2 (relative)';
    let g = groups.get(group);
    if (!g) { g = document.createElement('optgroup'); g.label = group; groups.set(group, g); select.appendChild(g); }
    const o = document.createElement('option');
    o.value = p.name;
    o.textContent = `${p.label} (${presetSize(p)}, ${p.licence})`;
    g.appendChild(o);
  }
  const config = $('config') as HTMLSelectElement;
  for (const v of Object.keys(VARIANTS)) {
    const o = document.createElement('option');
    o.value = v;
    o.textContent = v;
    config.appendChild(o);
  }
}

function presetSource(name: string): ModelSource | null {
  const p = MODEL_PRESETS.find((m) => m.name === name);
  return p ? { kind: 'url', url: presetUrl(p), name: p.file.split('/').pop()! } : null;
}

const urlSource = (url: string): ModelSource => ({ kind: 'url', url, name: url.split('?')[0].split('/').pop() || url });

/** Set by tools/build-browser.mjs to this bundle's import.meta.url. */
declare const __DEPTH_ANYTHING_MODULE_URL__: string | undefined;

/**
 * The Depth Anything 3 and Video Depth Anything modes are bundles of their own beside this one
 * (three.js, their workers): fetched when their tab is first chosen, so the one-photo page stays small.
 */
function modeBundle<T>(file: string): Promise<T> {
  return import(new URL(file, __DEPTH_ANYTHING_MODULE_URL__ ?? location.href).href) as Promise<T>;
}

function wire(): void {
  fillPresets();
  initModes();
  registerMode('multiview', 'Several photos → 3D', async (section) => {
    const { mountMultiview } = await modeBundle<typeof import('./multiview')>('./multiview.js');
    mountMultiview(section, { backend: 'auto', presets: presetsFor('multiview') });
  });
  registerMode('stream', 'Live video depth', async (section) => {
    const { mountStream } = await modeBundle<typeof import('./stream')>('./stream.js');
    mountStream(section, { backend: 'auto', presets: presetsFor('stream') });
  });
  $('model-preset').addEventListener('change', () => {
    const src = presetSource(($('model-preset') as HTMLSelectElement).value);
    if (src) wantModel(src);
  });
  $('model-load').addEventListener('click', () => {
    const url = ($('model-url') as HTMLInputElement).value.trim();
    if (!url) { S.error = 'enter a model URL first'; render(); return; }
    wantModel(urlSource(url));
  });
  $('model-url').addEventListener('keydown', (e) => { if (e.key === 'Enter') $('model-load').click(); });
  $('cache-clear').addEventListener('click', async () => {
    const removed = await clearWeightsCache();
    S.idleNote = removed ? 'downloaded models removed from the cache' : 'the cache was empty';
    render();
  });
  $('model-file').addEventListener('change', () => {
    const input = $('model-file') as HTMLInputElement;
    const f = input.files?.[0];
    // Cleared, so picking the same file again is a change too.
    input.value = '';
    if (f) wantModelFile(f);
  });
  $('config').addEventListener('change', () => {
    const v = ($('config') as HTMLSelectElement).value as VariantName | '';
    if (!v) return;
    wantConfig({ variant: v });
  });
  $('config-file').addEventListener('change', async () => {
    const input = $('config-file') as HTMLInputElement;
    const f = input.files?.[0];
    input.value = '';
    if (!f) return;
    try {
      wantConfig({ file: f.name, config: configFromJson(JSON.parse(await f.text()), f.name) });
    } catch (e) {
      S.error = `${f.name}: ${message(e).replace(`${f.name}: `, '')}`;
      render();
    }
  });
  $('backend').addEventListener('change', () => void wantBackend(($('backend') as HTMLSelectElement).value as BrowserBackendName));
  $('backend-wasm').addEventListener('click', () => void wantBackend('wasm'));
  $('backend-confirm').addEventListener('click', () => void wantBackend(S.wanted.backend, true));
  $('run').addEventListener('click', () => {
    asked();
    S.wanted.runSeq++;
    pump();
  });
  $('cancel').addEventListener('click', cancel);
  $('image-file').addEventListener('change', () => {
    const input = $('image-file') as HTMLInputElement;
    const f = input.files?.[0];
    input.value = '';
    if (f) wantImage({ input: f, name: f.name });
  });
  $('example').addEventListener('click', async () => {
    try {
      const res = await fetch(EXAMPLE.url);
      if (!res.ok) throw new Error(`${EXAMPLE.url}: HTTP ${res.status}`);
      if (!S.wanted.source) wantModel(presetSource(DEFAULT_PRESET)!);
      wantImage({ input: await res.blob(), name: EXAMPLE.name });
    } catch (e) {
      S.error = `the example photo could not be read (${message(e)})`;
      render();
    }
  });
  $('example-top').addEventListener('click', () => $('example').click());
  $('input-size').addEventListener('change', () => {
    const v = Number(($('input-size') as HTMLInputElement).value);
    if (!Number.isFinite(v) || v <= 0) return;
    asked();
    S.wanted.inputSize = v;
    pump();
  });
  // Drops anywhere on the page: a model file by its extension, anything else as a photo.
  const overlay = $('drop-overlay');
  let depth = 0;
  document.addEventListener('dragenter', (e) => { if (currentMode() === 'single' && e.dataTransfer?.types.includes('Files')) { depth++; overlay.classList.remove('hidden'); } });
  document.addEventListener('dragleave', () => { depth = Math.max(0, depth - 1); if (depth === 0) overlay.classList.add('hidden'); });
  document.addEventListener('dragover', (e) => e.preventDefault());
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    depth = 0;
    overlay.classList.add('hidden');
    // Other modes take their own drops.
    if (currentMode() !== 'single') return;
    const f = e.dataTransfer?.files?.[0];
    if (!f) return;
    if (isModelFile(f)) wantModelFile(f); else wantImage({ input: f, name: f.name });
  });
  $('webcam').addEventListener('click', async () => {
    const video = $('video') as HTMLVideoElement;
    try {
      video.srcObject = await navigator.mediaDevices.getUserMedia({ video: true });
      await video.play();
      video.classList.remove('hidden');
      $('snap').classList.remove('hidden');
    } catch (e) {
      S.error = `cannot open the webcam (${message(e)})`;
      render();
    }
  });
  $('snap').addEventListener('click', () => {
    const video = $('video') as HTMLVideoElement;
    const c = document.createElement('canvas');
    c.width = video.videoWidth;
    c.height = video.videoHeight;
    c.getContext('2d')!.drawImage(video, 0, 0);
    wantImage({ input: c, name: `webcam-${new Date().toISOString().slice(11, 19).replace(/:/g, '')}.png` });
  });
  $('colormap').addEventListener('change', () => { if (S.result) show(); });
  $('focal').addEventListener('change', () => { if (S.result?.depth.metric) showCloud(); });
  $('dl-png16').addEventListener('click', async () => { if (S.result) download(await depthToPng16Blob(S.result.depth), 'depth16.png'); });
  $('dl-npy').addEventListener('click', () => { if (S.result) download(depthToNpyBlob(S.result.depth), 'depth.npy'); });
  $('dl-ply').addEventListener('click', () => {
    if (!S.result) return;
    const f = Number(($('focal') as HTMLInputElement).value);
    try { download(depthToPlyBlob(S.result.depth, S.result.image, { fx: f, fy: f }), 'points.ply'); } catch (e) { S.error = message(e); render(); }
  });
  window.addEventListener('unhandledrejection', (e) => { S.error = message(e.reason); render(); });
}

wire();
// ?backend=NAME preselects a backend (named in the address: no warning asked); ?model=URL loads one.
const params = new URLSearchParams(location.search);
const backendParam = params.get('backend') as BrowserBackendName | null;
if (backendParam && BACKENDS.includes(backendParam)) { S.wanted.backend = backendParam; S.confirmedSlow.add(backendParam); }
if (params.get('model')) wantModel(urlSource(params.get('model')!));
render();
