/**
 * `DepthAnythingWorker` (the model in a Web Worker) called directly in headless Chromium with the
 * v2-tiny fixture: the same depth as `DepthAnything` on the page's main thread, the worker's errors
 * as one-line Errors, tensors flat in the worker, calls queued in order, and terminate / a crashed
 * worker rejecting pending calls. The browser runs in a child process (worker_scenario.ts).
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { buildBrowser } from './build';
import type { WorkerScenarioResult } from './worker_scenario';

const ROOT = path.resolve(__dirname, '..', '..');

describe('DepthAnythingWorker in headless Chromium', () => {
  let r: WorkerScenarioResult;
  let dist: string;

  beforeAll(async () => {
    dist = buildBrowser();
    r = await new Promise<WorkerScenarioResult>((resolve, reject) => {
      execFile(process.execPath, [require.resolve('tsx/cli'), 'test/browser/worker_scenario.ts', '--dist', dist], { cwd: ROOT, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
        if (err) return reject(new Error(`worker scenario failed: ${stderr.slice(-3000) || err.message}`));
        resolve(JSON.parse(stdout.trim().split('\n').pop()!) as WorkerScenarioResult);
      });
    });
  }, 5 * 60_000);
  afterAll(() => fs.rmSync(dist, { recursive: true, force: true }));

  it('loads by URL in the worker with download progress; auto picks its backend there without a document', () => {
    expect(r.worker.config).toBe('v2 vits 32');
    expect(r.worker.progressEvents).toBeGreaterThan(0);
    expect(r.worker.lastProgress!.loaded).toBe(fs.statSync(path.resolve(ROOT, '../shared/fixtures/parity/v2-tiny/weights.safetensors')).size);
    // The same choice, for the same reasons, as auto in the page (OffscreenCanvas WebGL probe, navigator.gpu).
    expect({ name: r.worker.backend, warning: r.worker.warning }).toEqual(r.autoInPage);
    // (Headless CI: no WebGPU adapter, WebGL only on SwiftShader, which auto passes over: wasm.)
    expect(r.mainBackend).toBe('wasm');
  });

  it('predicts the same depth as DepthAnything on the main thread (wasm), and hands back the decoded RGB', () => {
    expect([r.depth.width, r.depth.height]).toEqual([1041, 1600]);
    // Same backend, same code: expected bit-identical; the fixture tolerance is the bound asserted.
    expect(r.depth.relL2).toBeLessThanOrEqual(1e-5);
    expect(r.depth.maxAbs).toBeLessThanOrEqual(1e-4 * Math.max(1, r.depth.maxRef));
    expect(r.imageBack).toEqual({ width: 1041, height: 1600, sameRgb: true });
    expect(r.callerRgbIntact).toBe(true);
  });

  it('runs calls issued together one at a time, in order, with the same result', () => {
    expect(r.queued).toEqual({ identical: true, order: [0, 1, 2] });
  });

  it('leaves the worker\'s tensor count as it was after predicts, after a failed predict, and frees all on dispose', () => {
    expect(r.tensors.loaded).toBeGreaterThan(0);
    expect(r.tensors.afterPredicts).toBe(r.tensors.loaded);
    expect(r.tensors.afterFailed).toBe(r.tensors.loaded);
    expect(r.tensors.afterDispose).toBe(0);
  });

  it('passes errors thrown in the worker on as Errors with the same name and one-line message', () => {
    expect(r.errors.predictInputSize).toEqual({ name: 'PreprocessError', message: 'input size must be a positive multiple of 14 (e.g. 518), got 30', isError: true });
    expect(r.errors.notAModelBytes).toEqual({ name: 'WeightsError', message: 'demo01.jpg: not a model file: neither a safetensors file nor a PyTorch .pth checkpoint', isError: true });
    expect(r.errors.notAModelUrl.message).toBe('/fixtures/parity/v2-vits-full/demo01.jpg: not a model file: neither a safetensors file nor a PyTorch .pth checkpoint');
  });

  it('rejects pending and later calls when terminated, or when the worker dies or never starts; an aborted load ends its worker', () => {
    expect(r.terminated).toEqual({ pending: 'DepthAnythingWorker: the worker was terminated', after: 'DepthAnythingWorker: the worker was terminated' });
    expect(r.crashed).toMatch(/^the depth worker \(blob:\S+\) stopped: Uncaught Error: simulated trap$/);
    expect(r.missingScript).toMatch(/^the depth worker \(http:\S+\/no-such-worker\.mjs\) could not start or crashed \(no message; is its script served\?\)$/);
    expect(r.aborted).toEqual({ name: 'AbortError', message: 'the model load was aborted' });
    expect(r.pageErrors).toEqual([]);
  });
});
