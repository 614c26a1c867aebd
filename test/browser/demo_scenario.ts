/**
 * The demo page scenario the browser test checks, run in a child process with tsx (puppeteer-core
 * is ESM-only, which jest cannot load in-process on Node 20). Prints one JSON line: what the page
 * did at each step. `npx tsx test/browser/demo_scenario.ts [--dist DIR] [--webgl] [--screenshot FILE] [--main-thread]`
 * (--main-thread: the page's ?worker=0, the model on the page's main thread, for comparison).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Responsiveness, errorText, openDemo, readResult, uploadImage, uploadImageWatching, uploadModel, waitState, watchRun, ROOT } from './demo_driver';
import sharp from 'sharp';
import { entryToFloat32, parseSafetensors } from '../../src/io/safetensors';

const CASE = path.resolve(ROOT, '../shared/fixtures/parity/v2-vits-full');
export const WEIGHTS = path.join(CASE, 'weights.safetensors');
export const PHOTO = path.join(CASE, 'demo01.jpg');

export interface RunResult { state: string; error: string; relL2?: number; width?: number; height?: number; ms?: number | null; wallS?: number; backend?: string | null; numTensors: number }
export interface ScenarioResult {
  notAModel: RunResult;
  load: RunResult & { loadS: number };
  wasm: RunResult & { responsive: Responsiveness };
  inWorker: boolean;
  screenshot?: string;
  badImage: RunResult;
  afterBadImage: { npyEnabled: boolean };
  webgl?: RunResult & { responsive: Responsiveness };
  pageErrors: string[];
}

function relL2(a: Float32Array, ref: Float32Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < ref.length; i++) { num += (a[i] - ref[i]) ** 2; den += ref[i] ** 2; }
  return Math.sqrt(num / den);
}

async function main(): Promise<void> {
  const arg = (k: string): string | undefined => { const i = process.argv.indexOf(k); return i > 0 ? process.argv[i + 1] : undefined; };
  const ref = entryToFloat32([...parseSafetensors(fs.readFileSync(path.join(CASE, 'depth_original_size.safetensors'))).tensors.values()][0]);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-scenario-'));
  const mainThread = process.argv.includes('--main-thread');
  const demo = await openDemo(`?backend=wasm${mainThread ? '&worker=0' : ''}`, { dist: arg('--dist') });
  const page = demo.page;
  const run = async (state: string, t0: number): Promise<RunResult> => {
    const r = await readResult(page);
    return {
      state, error: await errorText(page), numTensors: r.numTensors, backend: r.backend, ms: r.ms,
      wallS: (Date.now() - t0) / 1000, width: r.width, height: r.height,
      ...(r.depth && r.depth.length === ref.length ? { relL2: relL2(r.depth, ref) } : {}),
    };
  };
  try {
    let t = Date.now();
    const notAModel = await run(await uploadModel(page, PHOTO), t);
    t = Date.now();
    const load = { ...(await run(await uploadModel(page, WEIGHTS), t)), loadS: (Date.now() - t) / 1000 };
    t = Date.now();
    const watched = await uploadImageWatching(page, PHOTO);
    const { state: wasmState, ...responsive } = watched;
    const wasm = { ...(await run(wasmState, t)), responsive };
    const screenshot = arg('--screenshot');
    if (screenshot) {
      // The README's picture: 1280x800 viewport scaled to 960 wide, 256-colour PNG (small in git).
      const png = Buffer.from(await page.screenshot({ type: 'png' }));
      fs.writeFileSync(screenshot, await sharp(png).resize({ width: 960 }).png({ palette: true, quality: 90, effort: 10 }).toBuffer());
    }
    const broken = path.join(tmp, 'broken.jpg');
    fs.writeFileSync(broken, Buffer.concat([fs.readFileSync(PHOTO).subarray(0, 2), Buffer.from('not really a jpeg')]));
    t = Date.now();
    const badImage = await run(await uploadImage(page, broken), t);
    // The page still works after the error: the colour map redraws the last depth, downloads stay on.
    await page.select('#colormap', 'inferno');
    const afterBadImage = { npyEnabled: await page.evaluate(() => !(document.querySelector('#dl-npy') as HTMLButtonElement).disabled) };
    const inWorker = await page.evaluate(() => (window as unknown as { depthDemo: { inWorker: boolean } }).depthDemo.inWorker);
    const out: ScenarioResult = { notAModel, load, wasm, inWorker, badImage, afterBadImage, pageErrors: demo.errors, ...(screenshot ? { screenshot } : {}) };
    if (process.argv.includes('--webgl')) {
      t = Date.now();
      // The page rebuilds the model on the new backend and reruns the last image.
      await page.select('#backend', 'webgl');
      // SwiftShader: the page warns before building anything on it; the test runs it anyway.
      await page.waitForSelector('#backend-confirm', { visible: true, timeout: 60_000 });
      await page.click('#backend-confirm');
      await waitState(page, ['loading', 'running'], 60_000);
      // Through the model build (shader compilation), then the run, watched as the wasm run.
      await waitState(page, ['running', 'done', 'error'], 60 * 60_000);
      const { state: webglState, ...webglResponsive } = await watchRun(page);
      out.webgl = { ...(await run(webglState, t)), responsive: webglResponsive };
    }
    process.stdout.write(JSON.stringify(out) + '\n');
  } finally {
    await demo.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

if (require.main === module) main().catch((e) => { console.error(e); process.exit(1); });
