/**
 * 8-bit weights (`convert --dtype q8`) in headless Chromium: the page's DepthAnything loads the file
 * by URL, says it is 8-bit, and predicts the same depth as Node on the same file (wasm both). Run
 * in a child process by q8.test.ts (puppeteer-core is ESM-only); prints one JSON line.
 * `npx tsx test/browser/q8_scenario.ts --dist DIR --weights Q8FILE`
 */
import * as path from 'path';
import { openChromium } from '../../src/verify/chromium';
import { serveStatic } from '../../src/node/static_server';

const ROOT = path.resolve(__dirname, '..', '..');
const FIX = path.resolve(ROOT, '../shared/fixtures');

export interface Q8ScenarioResult {
  precision: string;
  width: number;
  height: number;
  depth: number[];
  pageErrors: string[];
}

async function main(): Promise<void> {
  const arg = (name: string) => process.argv[process.argv.indexOf(name) + 1];
  const dist = arg('--dist');
  const weights = arg('--weights');
  const server = await serveStatic({ '/dist/': dist, '/test/': path.join(ROOT, 'test/browser'), '/fixtures/': FIX, '/q8/': path.dirname(weights) });
  const browser = await openChromium();
  try {
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
    await page.evaluateOnNewDocument('window.__name = (f) => f');
    await page.goto(`${server.url}/test/lib_page.html`);
    await page.waitForFunction(() => document.body.dataset.state === 'ready');
    const r = await page.evaluate(async (file: string) => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const lib = (window as any).lib;
      const wasmPaths = new URL('/dist/wasm/', location.href).href;
      await lib.initBrowserBackend('wasm', { wasmPaths });
      const model = await lib.DepthAnything.load(`/q8/${file}`, { backend: 'wasm', wasmPaths, cache: false });
      const rgb = await lib.loadBrowserImage('/fixtures/preprocess/tiny/image.png');
      const d = await model.predict(rgb, { inputSize: 70 });
      const precision: string = model.weightsPrecision;
      model.dispose();
      return { precision, width: d.width, height: d.height, depth: Array.from(d.data as Float32Array) };
    }, path.basename(weights));
    console.log(JSON.stringify({ ...r, pageErrors }));
  } finally {
    await browser.close();
    await server.close();
  }
}
void main().catch((e) => { console.error(e); process.exit(1); });
