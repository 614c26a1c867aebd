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

const ROOT = path.resolve(__dirname, '..', '..');
const TOL = 2e-5; // fixtures README: end to end, photo file -> depth at the photo's size
const WEBGL = process.env.BROWSER_WEBGL !== '0';

function runScenario(args: string[]): Promise<ScenarioResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [require.resolve('tsx/cli'), 'test/browser/demo_scenario.ts', ...args], { cwd: ROOT, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`demo scenario failed: ${stderr.slice(-3000) || err.message}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as ScenarioResult);
    });
  });
}

describe('demo page in headless Chromium', () => {
  let r: ScenarioResult;
  let dist: string;

  beforeAll(async () => {
    dist = buildBrowser();
    const shot = process.env.DEMO_SCREENSHOT;
    r = await runScenario(['--dist', dist, ...(WEBGL ? ['--webgl'] : []), ...(shot ? ['--screenshot', shot] : [])]);
    const line = (name: string, x?: { relL2?: number; ms?: number | null; wallS?: number; backend?: string | null; responsive?: { answered: number; ticks: number; longestMs: number; runningS: number } }) =>
      x && process.stderr.write(`browser demo, ${name}: relL2 ${x.relL2?.toExponential(2)}, ${x.ms?.toFixed(0)} ms per image in the page (${x.wallS?.toFixed(1)} s wall), ${x.backend}; `
        + `while running the page answered ${x.responsive?.answered} evaluations and ticked ${x.responsive?.ticks} x 100 ms in ${x.responsive?.runningS.toFixed(1)} s, longest wait ${x.responsive?.longestMs} ms\n`);
    line('wasm', r.wasm);
    line('webgl', r.webgl);
  }, WEBGL ? 90 * 60_000 : 10 * 60_000);
  afterAll(() => fs.rmSync(dist, { recursive: true, force: true }));

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
