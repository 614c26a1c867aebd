/**
 * `DepthAnythingWorker` called directly in headless Chromium (test/browser/lib_page.html, the
 * standalone bundle, which finds depth-anything.worker.mjs next to itself), with the v2-tiny
 * fixture for speed. Run in a child process by worker.test.ts (puppeteer-core is ESM-only); prints
 * one JSON line. `npx tsx test/browser/worker_scenario.ts --dist DIR`
 */
import * as path from 'path';
import { openChromium } from '../../src/verify/chromium';
import { serveStatic } from '../../src/node/static_server';

const ROOT = path.resolve(__dirname, '..', '..');
const FIX = path.resolve(ROOT, '../shared/fixtures');

export interface WorkerScenarioResult {
  mainBackend: string;
  autoInPage: { name: string; warning?: string };
  worker: { backend: string; warning?: string; config: string; progressEvents: number; lastProgress?: { loaded: number; total?: number } };
  /** numTensors in the worker: after load, after predicts, after a failed predict, after dispose. */
  tensors: { loaded: number; afterPredicts: number; afterFailed: number; afterDispose: number };
  depth: { width: number; height: number; relL2: number; maxAbs: number; maxRef: number; identical: boolean };
  imageBack: { width: number; height: number; sameRgb: boolean };
  callerRgbIntact: boolean;
  /** Three predicts issued at once, in order. */
  queued: { identical: boolean; order: number[] };
  errors: { predictInputSize: { name: string; message: string }; notAModelBytes: { name: string; message: string }; notAModelUrl: { message: string } };
  terminated: { pending: string; after: string };
  crashed: string;
  missingScript: string;
  aborted: { name: string; message: string };
  pageErrors: string[];
}

async function main(): Promise<void> {
  const dist = process.argv[process.argv.indexOf('--dist') + 1];
  const server = await serveStatic({ '/dist/': dist, '/test/': path.join(ROOT, 'test/browser'), '/fixtures/': FIX });
  const browser = await openChromium();
  try {
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
    // tsx (esbuild, keepNames) wraps the named functions below in __name(), which the page lacks.
    await page.evaluateOnNewDocument('window.__name = (f) => f');
    await page.goto(`${server.url}/test/lib_page.html`);
    await page.waitForFunction(() => document.body.dataset.state === 'ready');
    const r = await page.evaluate(async () => {
      type Depth = { data: Float32Array; width: number; height: number };
      type Rgb = { data: Uint8Array; width: number; height: number };
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const lib = (window as any).lib;
      const WEIGHTS = '/fixtures/parity/v2-tiny/weights.safetensors';
      const PHOTO = '/fixtures/preprocess/portrait/image.png';
      const wasmPaths = new URL('/dist/wasm/', location.href).href;
      const opts = { inputSize: 70 };
      const catchErr = async (p: Promise<unknown>) => {
        try { await p; return { name: 'none', message: 'resolved' }; } catch (e) { return { name: (e as Error).name, message: (e as Error).message, isError: e instanceof Error }; }
      };

      // What auto picks in this page (with a document), for the worker's auto to match.
      const autoInPage = await lib.initBrowserBackend('auto', { wasmPaths });
      // The main-thread reference: DepthAnything in this page, on wasm.
      const main = await lib.DepthAnything.load(WEIGHTS, { backend: 'wasm', wasmPaths, cache: false });
      const rgb: Rgb = await lib.loadBrowserImage(PHOTO);
      const ref: Depth = await main.predict(rgb, opts);
      main.dispose();

      const progress: Array<{ loaded: number; total?: number }> = [];
      // auto in the worker: its backend detection runs without a document.
      const w = await lib.DepthAnythingWorker.load(WEIGHTS, { backend: 'auto', wasmPaths, cache: false, onProgress: (p: { loaded: number; total?: number }) => progress.push(p) });
      const loaded: number = await w.numTensors();
      const rgbCopy = rgb.data.slice();
      const got: { depth: Depth; image: Rgb } = await w.predictWithImage(rgb, opts);
      const callerRgbIntact = rgb.data.length === rgbCopy.length && rgb.data.every((v, i) => v === rgbCopy[i]);
      let num = 0, den = 0, maxAbs = 0, maxRef = 0, identical = got.depth.data.length === ref.data.length;
      for (let i = 0; i < ref.data.length; i++) {
        const d = got.depth.data[i] - ref.data[i];
        num += d * d; den += ref.data[i] * ref.data[i];
        maxAbs = Math.max(maxAbs, Math.abs(d)); maxRef = Math.max(maxRef, Math.abs(ref.data[i]));
        if (d !== 0) identical = false;
      }
      const sameRgb = got.image.data.length === rgbCopy.length && got.image.data.every((v, i) => v === rgbCopy[i]);
      // A URL decoded here, then three calls at once: they run in order, each the same depth.
      const order: number[] = [];
      const three: Depth[] = await Promise.all([0, 1, 2].map((k) => w.predict(PHOTO, opts).then((d: Depth) => { order.push(k); return d; })));
      const queuedIdentical = three.every((d) => d.data.length === ref.data.length && d.data.every((v, i) => v === got.depth.data[i]));
      const afterPredicts: number = await w.numTensors();
      const predictInputSize = await catchErr(w.predict(rgb, { inputSize: 30 }));
      const afterFailed: number = await w.numTensors();
      await w.dispose();
      const afterDispose: number = await w.numTensors();
      w.terminate();

      // A photo given as the model: the worker's one-line error, as bytes and as a URL.
      const jpeg = new Uint8Array(await (await fetch('/fixtures/parity/v2-vits-full/demo01.jpg')).arrayBuffer());
      const notAModelBytes = await catchErr(lib.DepthAnythingWorker.load(jpeg, { backend: 'wasm', wasmPaths, name: 'demo01.jpg' }));
      const notAModelUrl = await catchErr(lib.DepthAnythingWorker.load('/fixtures/parity/v2-vits-full/demo01.jpg', { backend: 'wasm', wasmPaths, cache: false }));

      // terminate() while a predict waits: it rejects, and so does every later call.
      const w2 = await lib.DepthAnythingWorker.load(WEIGHTS, { backend: 'wasm', wasmPaths });
      const pendingP = catchErr(w2.predict(rgb, opts));
      await new Promise((res) => setTimeout(res, 0));
      w2.terminate();
      const pending = (await pendingP).message;
      const after = (await catchErr(w2.numTensors())).message;

      // A worker that dies with a call pending (an uncaught error, as a wasm trap outside any call).
      const crashUrl = URL.createObjectURL(new Blob(["onmessage = () => setTimeout(() => { throw new Error('simulated trap'); });"], { type: 'text/javascript' }));
      const crashed = (await catchErr(lib.DepthAnythingWorker.load(WEIGHTS, { worker: crashUrl }))).message;
      const missingScript = (await catchErr(lib.DepthAnythingWorker.load(WEIGHTS, { worker: '/dist/browser/no-such-worker.mjs' }))).message;
      const ac = new AbortController();
      const abortedP = catchErr(lib.DepthAnythingWorker.load(WEIGHTS, { backend: 'wasm', wasmPaths, cache: false, signal: ac.signal }));
      ac.abort();
      const aborted = await abortedP;

      return {
        mainBackend: main.backend.name as string,
        autoInPage: { name: autoInPage.name as string, warning: autoInPage.warning as string | undefined },
        worker: { backend: w.backend.name as string, warning: w.backend.warning as string | undefined, config: `${w.config.version} ${w.config.encoder} ${w.config.embedDim ?? ''}`, progressEvents: progress.length, lastProgress: progress[progress.length - 1] },
        tensors: { loaded, afterPredicts, afterFailed, afterDispose },
        depth: { width: got.depth.width, height: got.depth.height, relL2: Math.sqrt(num / den), maxAbs, maxRef, identical },
        imageBack: { width: got.image.width, height: got.image.height, sameRgb },
        callerRgbIntact,
        queued: { identical: queuedIdentical, order },
        errors: { predictInputSize, notAModelBytes, notAModelUrl },
        terminated: { pending, after },
        crashed, missingScript, aborted: { name: aborted.name, message: aborted.message },
      };
    });
    process.stdout.write(JSON.stringify({ ...r, pageErrors }) + '\n');
  } finally {
    await browser.close();
    await server.close();
  }
}

if (require.main === module) main().catch((e) => { console.error(e); process.exit(1); });
