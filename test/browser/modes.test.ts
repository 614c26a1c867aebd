/**
 * The page modes "several photos -> 3D" (web/multiview.ts) and "live video depth" (web/stream.ts)
 * in headless Chromium through their own UI (web/modes.html), models in their workers on wasm, with
 * the tiny fixtures. The browser runs in a child process (modes_scenario.ts). DA3_SCREENSHOT=FILE
 * also saves the 3D view.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { buildBrowser } from './build';
import type { ModesScenarioResult } from './modes_scenario';

const ROOT = path.resolve(__dirname, '..', '..');
const TOL = 1e-5;

describe('page modes in headless Chromium', () => {
  let r: ModesScenarioResult;
  let dist: string;

  beforeAll(async () => {
    dist = buildBrowser();
    const shot = process.env.DA3_SCREENSHOT;
    r = await new Promise<ModesScenarioResult>((resolve, reject) => {
      execFile(process.execPath, [require.resolve('tsx/cli'), 'test/browser/modes_scenario.ts', '--dist', dist, ...(shot ? ['--screenshot', shot] : [])], { cwd: ROOT, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        if (err) return reject(new Error(`modes scenario failed: ${stderr.slice(-3000) || err.message}`));
        resolve(JSON.parse(stdout.trim().split('\n').pop()!) as ModesScenarioResult);
      });
    });
  }, 10 * 60_000);
  afterAll(() => fs.rmSync(dist, { recursive: true, force: true }));

  it('3D mode: Reconstruct with nothing chosen says what is missing', () => {
    expect(r.multiview.nothingChosen).toBe('choose a Depth Anything 3 weights file, or give its URL');
  });

  it('3D mode: a Video Depth Anything file given as the weights is refused in one sentence from the worker', () => {
    expect(r.multiview.wrongWeights).toBe('weights.safetensors: not a Depth Anything 3 checkpoint: model.backbone.pretrained.pos_embed is missing');
  });

  it('3D mode: two photos give the official point count and one camera frustum per view', () => {
    const m = r.multiview;
    expect(m.state.status).toBe('done');
    expect(m.state.views).toBe(2);
    expect(m.state.frustums).toBe(2);
    // export.safetensors: the official exporter kept 7056 points of 2 x 70 x 84.
    expect(m.state.points).toBe(m.ply.officialVertices);
    expect(m.state.points).toBe(7056);
  });

  it('3D mode: the downloaded PLY is what the library writes, with the official points and colours', () => {
    const p = r.multiview.ply;
    expect(p.headerSameAsLibrary).toBe(true);
    expect(p.vertices).toBe(p.officialVertices);
    expect(p.colorsEqual).toBe(true);
    expect(p.relL2).toBeLessThanOrEqual(TOL);
    expect(p.bytes).toBeGreaterThan(p.vertices * 15);
  });

  it('3D mode: a higher confidence threshold keeps fewer points', () => {
    expect(r.multiview.slider.confThresh).toBeGreaterThan(r.multiview.state.confThresh!);
    expect(r.multiview.slider.points).toBeGreaterThan(0);
    expect(r.multiview.slider.points).toBeLessThan(r.multiview.state.points);
  });

  it('3D mode: no tensor left in the worker by the run', () => {
    const t = r.multiview.state.workerTensors!;
    expect(t.loaded).toBeGreaterThan(0);
    expect(t.afterRun).toBe(t.loaded);
  });

  it('stream mode: every frame of the canvas stream is streamed once, in order, and its depth is Node\'s streaming result', () => {
    const s = r.stream;
    expect(s.frames).toBe(20);
    expect(s.state.frames).toBe(20);
    expect(s.state.status).toBe('stopped');
    expect(s.state.fps).toBeGreaterThan(0);
    for (const c of s.vsNode) expect(c.relL2).toBeLessThanOrEqual(TOL);
  });

  it('stream mode: the frames reach the model unchanged, and their depth is the official streaming depth', () => {
    expect(r.stream.pixelsEqualPngs).toEqual(Array(20).fill(true));
    for (const c of r.stream.vsOfficial) expect(c!.relL2).toBeLessThanOrEqual(2e-5);
  });

  it('stream mode: stopping frees the temporal cache in the worker', () => {
    const t = r.stream.state.workerTensors!;
    expect(t.loaded).toBeGreaterThan(0);
    expect(t.afterReset).toBe(t.loaded);
  });

  it('raises no page errors', () => {
    expect(r.pageErrors).toEqual([]);
  });
});
