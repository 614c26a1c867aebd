/**
 * "Several photos -> 3D": Depth Anything 3 on a few photos of one scene, run in a Web Worker
 * (Da3Worker), shown as the point cloud with each view's camera frustum (three.js), a confidence
 * threshold slider, and GLB / PLY downloads of exactly what `predict --multiview` writes
 * (da3Scene, encodeDa3SceneGlb / encodeDa3ScenePly). A standalone module: it builds its own UI
 * inside `root` and starts its own worker.
 *
 *   import { mountMultiview } from './multiview.js';
 *   const mv = mountMultiview(document.getElementById('root')!);
 */
import { presetSelect } from './preset_select';
import * as THREE from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
import { Da3Worker } from '../src/browser/worker_models_client';
import type { Da3WorkerResult } from '../src/browser/worker_models_protocol';
import type { BrowserBackendName } from '../src/backends/browser';
import { Da3Scene, Da3SceneOptions, da3Scene } from '../src/pipeline/da3/scene';
import { encodeDa3SceneGlb, encodeDa3ScenePly } from '../src/pipeline/da3/scene_files';
import { Da3Config, da3ConfigFromJson } from '../src/config/da3';

export interface MultiviewOptions {
  /** depth-anything.worker.mjs (default: /dist/browser/, as `depth-anything serve` serves it). */
  workerUrl?: string;
  /** The wasm backend's .wasm files (default /dist/wasm/). */
  wasmPaths?: string;
  /** The backend selected at first (default webgl). */
  backend?: BrowserBackendName;
  /** Official models offered in a list (the demo page passes web/presets.ts presetsFor). */
  presets?: ReadonlyArray<{ label: string; url: string }>;
}

/** What the mode shows, for scripts and tests. */
export interface MultiviewState {
  status: 'idle' | 'loading' | 'running' | 'done' | 'error';
  message: string;
  views: number;
  points: number;
  frustums: number;
  /** The threshold applied (conf >= it), null without confidence. */
  confThresh: number | null;
  /** Live tensors in the worker after the last run, and after the model loaded. */
  workerTensors: { loaded: number; afterRun: number } | null;
}

export interface MultiviewHandle {
  state(): MultiviewState;
  /** The current scene's files, as the download buttons write them. */
  plyBytes(): Uint8Array | null;
  glbBytes(): Uint8Array | null;
  /** Ends the worker and removes the UI. */
  destroy(): void;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

function download(bytes: Uint8Array, name: string, type: string): void {
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type }));
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The 3D view: points (vertex colours) and frustum lines, camera framed on the cloud. */
class SceneView {
  readonly renderer: THREE.WebGLRenderer;
  private readonly scene = new THREE.Scene();
  private readonly camera = new THREE.PerspectiveCamera(50, 4 / 3, 0.001, 1000);
  private readonly controls: OrbitControls;
  private objects: THREE.Object3D[] = [];

  constructor(host: HTMLElement) {
    // preserveDrawingBuffer: screenshots and toDataURL read what was drawn.
    this.renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
    this.renderer.setSize(640, 480);
    this.scene.background = new THREE.Color(0x202020);
    host.append(this.renderer.domElement);
    this.controls = new OrbitControls(this.camera, this.renderer.domElement);
    this.controls.addEventListener('change', () => this.render());
  }

  show(scene: Da3Scene, fit: boolean): void {
    for (const o of this.objects) {
      this.scene.remove(o);
      const m = o as THREE.Points | THREE.LineSegments;
      m.geometry.dispose();
      (m.material as THREE.Material).dispose();
    }
    this.objects = [];
    const g = new THREE.BufferGeometry();
    g.setAttribute('position', new THREE.BufferAttribute(scene.points, 3));
    g.setAttribute('color', new THREE.BufferAttribute(scene.colors, 3, true));
    const points = new THREE.Points(g, new THREE.PointsMaterial({ size: 2, sizeAttenuation: false, vertexColors: true }));
    this.objects.push(points);
    // One LineSegments per camera: its 8 segments in the aligned (glTF) frame, its index colour.
    const n = scene.cameraColors.length / 3;
    for (let i = 0; i < n; i++) {
      const lg = new THREE.BufferGeometry();
      lg.setAttribute('position', new THREE.BufferAttribute(Float32Array.from(scene.cameraFrustumLinesAligned.subarray(i * 48, (i + 1) * 48)), 3));
      const c = scene.cameraColors;
      const line = new THREE.LineSegments(lg, new THREE.LineBasicMaterial({ color: new THREE.Color(c[i * 3] / 255, c[i * 3 + 1] / 255, c[i * 3 + 2] / 255) }));
      line.name = `frustum${i}`;
      this.objects.push(line);
    }
    for (const o of this.objects) this.scene.add(o);
    if (fit) {
      // Framed on the bulk of the cloud: the alignment put its median at the origin; the radius
      // is the 90th percentile of the distances from it (stray points do not shrink the view).
      const p = scene.points;
      const d: number[] = [];
      for (let i = 0; i < p.length; i += 3) d.push(Math.hypot(p[i], p[i + 1], p[i + 2]));
      d.sort((a, b) => a - b);
      const radius = Math.max(d.length ? d[Math.floor(0.9 * (d.length - 1))] : 1, 1e-3);
      // glTF axes (y up, the first camera looking down -z from near the origin): start behind it.
      this.camera.position.set(radius * 0.6, radius * 0.5, radius * 2.2);
      this.camera.near = radius / 1000;
      this.camera.far = radius * 100;
      this.camera.updateProjectionMatrix();
      this.controls.target.set(0, 0, 0);
      this.controls.update();
    }
    this.render();
  }

  frustums(): number {
    return this.objects.filter((o) => o.name.startsWith('frustum')).length;
  }

  render(): void {
    this.renderer.render(this.scene, this.camera);
  }

  dispose(): void {
    this.controls.dispose();
    this.renderer.dispose();
  }
}

export function mountMultiview(root: HTMLElement, opts: MultiviewOptions = {}): MultiviewHandle {
  const workerUrl = opts.workerUrl ?? new URL('/dist/browser/depth-anything.worker.mjs', location.href).href;
  const wasmPaths = opts.wasmPaths ?? new URL('/dist/wasm/', location.href).href;
  const state: MultiviewState = { status: 'idle', message: 'choose a Depth Anything 3 weights file (or URL) and two or more photos of one scene', views: 0, points: 0, frustums: 0, confThresh: null, workerTensors: null };

  const weightsFile = el('input', { type: 'file', accept: '.safetensors' });
  weightsFile.dataset.role = 'weights';
  const weightsUrl = el('input', { type: 'url', placeholder: 'or a weights URL (model.safetensors)', size: 40 });
  // A layout that is not a released one (the test fixtures) needs its config.json.
  const configFile = el('input', { type: 'file', accept: '.json' });
  configFile.dataset.role = 'config';
  const photos = el('input', { type: 'file', accept: 'image/*', multiple: true });
  photos.dataset.role = 'photos';
  const backend = el('select');
  for (const b of ['webgl', 'webgpu', 'wasm', 'cpu', 'auto']) backend.append(el('option', { value: b, textContent: b }));
  backend.value = opts.backend ?? 'webgl';
  const processRes = el('input', { type: 'number', value: '504', min: '14', step: '14' });
  const run = el('button', { textContent: 'Reconstruct' });
  run.dataset.role = 'run';
  const slider = el('input', { type: 'range', min: '1', max: '2', step: '0.001', value: '1.05', disabled: true });
  slider.dataset.role = 'conf';
  const sliderLabel = el('span', { textContent: 'confidence threshold: official (percentiles 40/90)' });
  const glb = el('button', { textContent: 'Download GLB', disabled: true });
  glb.dataset.role = 'glb';
  const ply = el('button', { textContent: 'Download PLY', disabled: true });
  ply.dataset.role = 'ply';
  const status = el('p', { textContent: state.message });
  status.dataset.role = 'status';
  const view = el('div');
  const ui = el('section', { className: 'da3-multiview' },
    el('div', {}, 'Weights ', ...(opts.presets ? [presetSelect(opts.presets, weightsUrl), ' '] : []), weightsFile, ' ', weightsUrl, ' config.json (optional) ', configFile),
    el('div', {}, 'Photos ', photos, ' backend ', backend, ' process_res ', processRes, ' ', run),
    el('div', {}, slider, ' ', sliderLabel),
    el('div', {}, glb, ' ', ply),
    status, view);
  root.append(ui);
  const sceneView = new SceneView(view);

  let worker: Da3Worker | null = null;
  let loadedKey = '';
  let result: Da3WorkerResult | null = null;
  let scene: Da3Scene | null = null;

  const setStatus = (s: MultiviewState['status'], message: string): void => {
    state.status = s;
    state.message = message;
    status.textContent = message;
    ui.dataset.state = s;
  };

  const showScene = (next: Da3Scene, fit: boolean): void => {
    scene = next;
    sceneView.show(next, fit);
    state.points = next.points.length / 3;
    state.frustums = sceneView.frustums();
    state.confThresh = next.confThresh;
    glb.disabled = ply.disabled = false;
  };

  const reconstruct = async (): Promise<void> => {
    const files = [...(photos.files ?? [])];
    const w = weightsFile.files?.[0] ?? (weightsUrl.value.trim() || null);
    if (!w) throw new Error('choose a Depth Anything 3 weights file, or give its URL');
    if (files.length === 0) throw new Error('choose one or more photos of the scene');
    const cf = configFile.files?.[0];
    const key = `${typeof w === 'string' ? w : `${w.name}:${w.size}:${w.lastModified}`}|${cf ? `${cf.name}:${cf.size}` : ''}|${backend.value}`;
    if (!worker || key !== loadedKey) {
      let config: Da3Config | undefined;
      if (cf) {
        let json: unknown;
        try { json = JSON.parse(await cf.text()); } catch (e) { throw new Error(`${cf.name}: not valid JSON (${(e as Error).message})`); }
        config = da3ConfigFromJson(json, cf.name);
      }
      setStatus('loading', `loading ${typeof w === 'string' ? w : w.name} in a worker on ${backend.value}...`);
      worker?.terminate();
      worker = null;
      worker = await Da3Worker.load(w, { backend: backend.value as BrowserBackendName, wasmPaths, worker: workerUrl, ...(config ? { config } : {}) });
      loadedKey = key;
    }
    const loaded = (await worker.memory()).numTensors;
    setStatus('running', `Depth Anything 3 on ${files.length} view(s) in the worker (${worker.backend.description})...`);
    const t0 = performance.now();
    result = await worker.inference(files, { processRes: Number(processRes.value) || 504 });
    const afterRun = (await worker.memory()).numTensors;
    state.workerTensors = { loaded, afterRun };
    const inf = result.inference;
    state.views = inf.views;
    if (!result.scene) throw new Error(`${worker.source}: this model predicts no cameras (a mono/metric model): the 3D scene needs an any-view model (DA3-SMALL, -BASE, ...)`);
    showScene(result.scene, true);
    // The slider spans the confidence values; until moved, the official threshold rule applies.
    if (inf.conf) {
      let hi = 1;
      for (const c of inf.conf) if (c > hi) hi = c;
      slider.max = String(hi);
      slider.value = String(result.scene.confThresh ?? 1.05);
      slider.disabled = false;
    }
    sliderLabel.textContent = `confidence threshold: official (percentiles 40/90) = ${result.scene.confThresh?.toFixed(3) ?? 'none'}`;
    setStatus('done', `${inf.views} views ${inf.width}x${inf.height}: ${state.points} points, ${state.frustums} cameras in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  };

  run.addEventListener('click', () => {
    reconstruct().catch((e: unknown) => setStatus('error', e instanceof Error ? e.message : String(e)));
  });
  slider.addEventListener('input', () => {
    if (!result?.inference.extrinsics || !result.inference.intrinsics) return;
    const inf = result.inference;
    // A plain threshold: conf >= the slider (the official percentile clamps off).
    const options: Da3SceneOptions = { confThresh: Number(slider.value), confThreshPercentile: 0, ensureThreshPercentile: 100 };
    showScene(da3Scene({ ...inf, extrinsics: inf.extrinsics!, intrinsics: inf.intrinsics! }, options), false);
    sliderLabel.textContent = `confidence threshold: ${Number(slider.value).toFixed(3)}`;
    setStatus('done', `${inf.views} views: ${state.points} points kept at confidence >= ${Number(slider.value).toFixed(3)}`);
  });
  glb.addEventListener('click', () => { if (scene) download(encodeDa3SceneGlb(scene), 'scene.glb', 'model/gltf-binary'); });
  ply.addEventListener('click', () => { if (scene) download(encodeDa3ScenePly(scene), 'scene.ply', 'application/octet-stream'); });

  return {
    state: () => ({ ...state }),
    plyBytes: () => (scene ? encodeDa3ScenePly(scene) : null),
    glbBytes: () => (scene ? encodeDa3SceneGlb(scene) : null),
    destroy: () => {
      worker?.terminate();
      sceneView.dispose();
      ui.remove();
    },
  };
}
