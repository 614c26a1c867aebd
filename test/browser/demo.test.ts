/**
 * The demo page in a real browser (headless Chromium through puppeteer-core, Debian's chromium):
 * served as `depth-anything serve` serves it, the fixture model and photo go in through the page's
 * own file inputs, and the depth the page computed is compared with the official depth at the
 * photo's size, on wasm and then on webgl, the model running in the page's Web Worker while the page
 * keeps answering. The browser runs in a child process (demo_scenario.ts).
 * Software rendering (SwiftShader) in CI: the webgl pass of the full-size model takes about 6-7
 * minutes on 2 idle cores (times in the README); BROWSER_WEBGL=0 leaves it out for a quick local run.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { buildBrowser } from './build';
import type { ScenarioResult } from './demo_scenario';
import type { FlowResult } from './demo_flow_scenario';

const ROOT = path.resolve(__dirname, '..', '..');
const TOL = 2e-5; // fixtures README: end to end, photo file -> depth at the photo's size
const WEBGL = process.env.BROWSER_WEBGL !== '0';

function runScenario<T = ScenarioResult>(args: string[], script = 'test/browser/demo_scenario.ts'): Promise<T> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [require.resolve('tsx/cli'), script, ...args], { cwd: ROOT, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`demo scenario failed: ${stderr.slice(-3000) || err.message}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as T);
    });
  });
}

// One build of the bundles for both scenarios.
let dist: string;
beforeAll(() => { dist = buildBrowser(); });
afterAll(() => fs.rmSync(dist, { recursive: true, force: true }));

describe('demo page in headless Chromium', () => {
  let r: ScenarioResult;

  beforeAll(async () => {
    const shot = process.env.DEMO_SCREENSHOT;
    r = await runScenario(['--dist', dist, ...(WEBGL ? ['--webgl'] : []), ...(shot ? ['--screenshot', shot] : [])]);
    const line = (name: string, x?: { relL2?: number; ms?: number | null; wallS?: number; backend?: string | null; responsive?: { answered: number; ticks: number; longestMs: number; runningS: number } }) =>
      x && process.stderr.write(`browser demo, ${name}: relL2 ${x.relL2?.toExponential(2)}, ${x.ms?.toFixed(0)} ms per image in the page (${x.wallS?.toFixed(1)} s wall), ${x.backend}; `
        + `while running the page answered ${x.responsive?.answered} evaluations and ticked ${x.responsive?.ticks} x 100 ms in ${x.responsive?.runningS.toFixed(1)} s, longest wait ${x.responsive?.longestMs} ms\n`);
    line('wasm', r.wasm);
    line('webgl', r.webgl);
  }, WEBGL ? 90 * 60_000 : 10 * 60_000);

  it('says in one sentence that a photo is not a model', () => {
    expect(r.notAModel.state).toBe('error');
    expect(r.notAModel.error).toBe('demo01.jpg: not a model file: neither a safetensors file nor a PyTorch .pth checkpoint');
  });

  it('then loads the fixture weights through its file input', () => {
    expect(r.load.state).toBe('ready');
    expect(r.load.error).toBe('');
    expect(r.load.backend).toBe('wasm');
  });

  it('computes the depth of demo01.jpg within relL2 2e-5 of the official depth (wasm, in its worker), leaking no tensors', () => {
    expect(r.inWorker).toBe(true);
    expect(r.wasm.state).toBe('done');
    expect([r.wasm.height, r.wasm.width]).toEqual([1362, 2048]);
    expect(r.wasm.relL2).toBeLessThanOrEqual(TOL);
    expect(r.wasm.numTensors).toBe(r.load.numTensors);
  });

  it('keeps answering while the model runs: the main thread is never frozen', () => {
    // Polled every ~100 ms: a page whose main thread runs the model answers at most once (after it).
    expect(r.wasm.responsive.answered).toBeGreaterThanOrEqual(5);
    // A 100 ms setInterval in the page kept firing during the run.
    expect(r.wasm.responsive.ticks).toBeGreaterThanOrEqual(5);
  });

  it('says in one sentence that an image cannot be decoded, leaks no tensors, and keeps working', () => {
    expect(r.badImage.state).toBe('error');
    expect(r.badImage.error).toMatch(/^broken\.jpg: cannot decode this image \(.*\)$/);
    expect(r.badImage.numTensors).toBe(r.load.numTensors);
    expect(r.afterBadImage.npyEnabled).toBe(true);
    expect(r.pageErrors).toEqual([]);
  });

  if (WEBGL) it('recomputes on webgl when the backend selector changes; depth within relL2 2e-5', () => {
    expect(r.webgl!.state).toBe('done');
    expect(r.webgl!.backend).toMatch(/^webgl/);
    expect(r.webgl!.relL2).toBeLessThanOrEqual(TOL);
    // WebGL on an OffscreenCanvas in the worker: shader compilation and the run leave the page free.
    expect(r.webgl!.responsive.answered).toBeGreaterThanOrEqual(5);
    expect(r.webgl!.responsive.ticks).toBeGreaterThanOrEqual(5);
  });
});

describe('the demo page as a visitor uses it (tiny models, wasm, the example photo)', () => {
  let f: FlowResult;
  beforeAll(async () => {
    f = await runScenario<FlowResult>(['--dist', dist], 'test/browser/demo_flow_scenario.ts');
  }, 10 * 60_000);

  it('keeps its state contract: window.depthDemo.state() gives model, backend, busy, error', () => {
    expect(f.initial).toMatchObject({ model: null, backend: null, busy: false, error: null });
    expect(f.a.state).toMatchObject({ model: { source: '/models/weights.safetensors', bytes: 1296492, sha256: f.sha256.a }, backend: 'wasm', busy: false, error: null });
  });

  it('runs the new model when serve restarts with another file of the same name (not the cached one)', () => {
    expect(f.sha256.a).not.toBe(f.sha256.b);
    expect(f.b.state.model).toMatchObject({ source: '/models/weights.safetensors', bytes: 1296492, sha256: f.sha256.b, cached: false, config: 'V1 vits, relative' });
    expect(f.b.depthHead).not.toEqual(f.a.depthHead);
    expect(f.b.modelLine).toContain(`sha256 ${f.sha256.b.slice(0, 12)}`);
    // The same file again: from the cache, after the server said it is unchanged.
    expect(f.bAgain.state.model).toMatchObject({ sha256: f.sha256.b, cached: true });
  });

  it('applies a backend change made during a run after that run', () => {
    expect(f.backendSwitch.atSwitch).toMatchObject({ busy: true, stage: 'run', backend: 'cpu' });
    expect(f.backendSwitch.runs.map((r) => r.backend)).toEqual(['cpu', 'wasm']);
    expect(f.backendSwitch.after).toMatchObject({ backend: 'wasm', wantedBackend: 'wasm', busy: false, error: null });
    expect(f.backendSwitch.select).toBe('wasm');
  });

  it('runs a photo dropped anywhere on the page during a run after that run', () => {
    expect(f.dropMidRun.atDrop).toMatchObject({ busy: true, stage: 'run' });
    expect(f.dropMidRun.runs.map((r) => r.image)).toEqual(['demo01.jpg', 'dropped photo.jpg']);
    expect(f.dropMidRun.after).toMatchObject({ image: 'dropped photo.jpg', busy: false, error: null });
  });

  it('cancels a run (the worker and its tensors go), then Run works again without a tensor left over', () => {
    expect(f.cancel.atCancel).toMatchObject({ busy: true, stage: 'run' });
    expect(f.cancel.after).toMatchObject({ busy: false, error: null, backend: null });
    expect(f.cancel.status).toBe('Cancelled.');
    expect(f.cancel.afterRun).toMatchObject({ busy: false, error: null, backend: 'wasm' });
    expect(f.cancel.numTensors).toBe(f.cancel.baseline);
  });

  it('re-runs when the input size changes; drags the divider on the picture; names downloads after the photo', () => {
    expect(f.inputSize.runs).toEqual([expect.objectContaining({ inputSize: 126, backend: 'wasm' })]);
    expect(f.divider.state).toBeCloseTo(20, 0);
    expect(f.divider.clip).toMatch(/inset\(0(px)? 0(px)? 0(px)? 20(\.\d+)?%\)/);
    expect(f.downloads).toEqual(['dropped_photo_depth.npy', 'dropped_photo_depth16.png']);
  });

  it('warns before building on a software renderer, and switches to wasm on request', () => {
    expect(f.softwareWarning).toMatchObject({ visible: true, busy: false, backend: 'wasm', afterUseWasm: { visible: false, wanted: 'wasm' } });
    expect(f.softwareWarning.text).toMatch(/^webgl here runs on a software renderer \(.*SwiftShader.*\), no GPU: .* wasm is recommended\.$/);
  });

  it('says in one line what auto chose and what it passed over', () => {
    expect(f.auto.state).toMatchObject({ backend: 'wasm', wantedBackend: 'auto', error: null });
    expect(f.auto.modelLine).toMatch(/ on wasm \(auto passed over webgpu, webgl\) in a worker$/);
    expect(f.auto.modelLine).not.toContain('\n');
    expect(f.auto.status).not.toContain('\n');
  });

  it('asks for the configuration of a file that does not say which model it is, in the page', () => {
    expect(f.needsConfig.error).toBe('mystery.pth: the encoder (embed_dim 32, depth 12, mlp) is not an official size, so its number of heads and feature layers cannot be read from the tensors: choose its configuration in the list under the model');
    expect(f.needsConfig.pickerShown).toBe(true);
    // The status beside the error says what is true now (nothing is being read or built).
    expect(f.needsConfig.status).toBe('mystery.pth is read: choose its configuration.');
    expect(f.needsConfig.after).toMatchObject({ model: { source: 'mystery.pth', bytes: 1361827 }, error: null, busy: false });
    expect(f.needsConfig.afterError).toBe('');
  });

  it('on a phone (390x844) shows the result and the status in view after a run', () => {
    const { viewer, status, height } = f.phone;
    expect(status.top).toBeGreaterThanOrEqual(0);
    expect(status.bottom).toBeLessThanOrEqual(height);
    // Below the sticky status bar, and on screen.
    expect(viewer.top).toBeGreaterThanOrEqual(status.bottom);
    expect(viewer.top).toBeLessThan(height - 100);
    expect(f.phone.state).toMatchObject({ backend: 'wasm', busy: false, error: null, image: 'demo01.jpg' });
    // The photo was chosen while the model was still loading: it waited for it instead of being dropped.
    expect(f.phone.atTap).toMatchObject({ model: null, busy: true });
  });

  it('has tabs for several photos -> 3D (Depth Anything 3) and live video depth (Video Depth Anything), each listing its official models', () => {
    expect(f.modes.tabs).toEqual(['single: One photo', 'multiview: Several photos → 3D', 'stream: Live video depth']);
    expect(f.modes.multiview).toMatchObject({ shown: true, singleHidden: true });
    expect(f.modes.multiview.presets).toEqual([
      'Depth Anything 3 SMALL (137 MB, Apache-2.0)', 'Depth Anything 3 BASE (541 MB, Apache-2.0)', 'Depth Anything 3 LARGE (1.6 GB, CC-BY-NC-4.0)',
      'Depth Anything 3 LARGE 1.1 (1.6 GB, CC-BY-NC-4.0)', 'Depth Anything 3 GIANT (5.3 GB, CC-BY-NC-4.0)', 'Depth Anything 3 GIANT 1.1 (5.3 GB, CC-BY-NC-4.0)',
    ]);
    expect(f.modes.multiview.controls).toEqual(expect.arrayContaining(['weights', 'photos', 'run', 'conf', 'glb', 'ply']));
    expect(f.modes.stream).toMatchObject({ shown: true, singleHidden: true });
    expect(f.modes.stream.presets[0]).toBe('Video Depth Anything Small (114 MB, Apache-2.0)');
    expect(f.modes.stream.presets).toHaveLength(6);
    expect(f.modes.stream.controls).toEqual(expect.arrayContaining(['weights', 'video']));
    expect(f.modes.hash).toBe('#stream');
  });

  it('logs no page error', () => {
    expect(f.pageErrors).toEqual([]);
  });
});
