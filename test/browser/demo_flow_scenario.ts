/**
 * The demo page as a visitor uses it (test/browser/demo.test.ts runs this in a child process, as
 * demo_scenario.ts): tiny fixture models on wasm, the bundled example photo. Prints one JSON line.
 *   npx tsx test/browser/demo_flow_scenario.ts [--dist DIR]
 * Steps: the state contract before anything loads; `serve --page-weights A/weights.safetensors`,
 * then restarted on B/weights.safetensors (same name, same size, same URL): the page must run B;
 * a reload with B unchanged reads it from the cache; a backend change during a run (applied after
 * it); a photo dropped on the page during a run (run after it); Cancel during a run (no tensor
 * left, Run works again); input size re-runs; the divider dragged on the picture; downloads named
 * after the photo; the software-rendering warning; a file that needs a configuration; the phone layout.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { ElementHandle, Page } from 'puppeteer-core';
import { openChromium } from '../../src/verify/chromium';
import { StaticServer, serveStatic } from '../../src/node/static_server';
import { demoMounts, pageWeightsMount } from '../../src/cli/serve';
import { ROOT } from './demo_driver';

const FIX = path.resolve(ROOT, '../shared/fixtures/parity');
// Two different models of the same file name and the same size (1296492 bytes).
export const MODEL_A = path.join(FIX, 'v2-tiny/weights.safetensors');
export const MODEL_B = path.join(FIX, 'v1-tiny/weights.safetensors');

interface PageState {
  model: { source: string; bytes: number; sha256: string; cached: boolean; config: string | null } | null;
  backend: string | null; wantedBackend: string; busy: boolean; stage: string | null; error: string | null; image: string | null; needsConfig: boolean; divider: number;
}
type Run = { image: string; backend: string; inputSize: number; ms: number };

export interface FlowResult {
  initial: PageState;
  a: { state: PageState; depthHead: number[]; numTensors: number };
  b: { state: PageState; depthHead: number[]; status: string; modelLine: string };
  bAgain: { state: PageState };
  sha256: { a: string; b: string };
  backendSwitch: { atSwitch: PageState; after: PageState; runs: Run[]; select: string };
  dropMidRun: { atDrop: PageState; after: PageState; runs: Run[] };
  cancel: { atCancel: PageState; after: PageState; status: string; afterRun: PageState; numTensors: number; baseline: number };
  inputSize: { runs: Run[] };
  divider: { state: number; clip: string };
  downloads: string[];
  softwareWarning: { visible: boolean; text: string; busy: boolean; backend: string | null; afterUseWasm: { visible: boolean; wanted: string } };
  auto: { state: PageState; modelLine: string; status: string };
  needsConfig: { error: string; status: string; pickerShown: boolean; after: PageState; afterError: string };
  phone: { atTap: PageState; viewer: { top: number; bottom: number }; status: { top: number; bottom: number }; height: number; state: PageState };
  modes: { tabs: string[]; multiview: ModeView; stream: ModeView; hash: string };
  pageErrors: string[];
}
/** A page mode's tab chosen: its section shown (the one-photo one hidden), its list of official models, its controls. */
interface ModeView { shown: boolean; singleHidden: boolean; presets: string[]; controls: string[] }

const sha = (f: string): string => createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const state = (page: Page): Promise<PageState> => page.evaluate(() => (window as unknown as { depthDemo: { state(): PageState } }).depthDemo.state());
const runs = (page: Page): Promise<Run[]> => page.evaluate(() => [...(window as unknown as { depthDemo: { runs: Run[] } }).depthDemo.runs]);
const numTensors = (page: Page): Promise<number> => page.evaluate(() => (window as unknown as { depthDemo: { numTensors(): Promise<number> } }).depthDemo.numTensors());
const depthHead = (page: Page): Promise<number[]> => page.evaluate(() => [...((window as unknown as { depthDemo: { depth: { data: Float32Array } | null } }).depthDemo.depth?.data.slice(0, 8) ?? [])]);
const text = (page: Page, sel: string): Promise<string> => page.$eval(sel, (el) => el.textContent ?? '');

/** Waits until the page is idle (nothing running, nothing left to do) with state `want`. */
async function settle(page: Page, want: string[], timeout = 120_000): Promise<string> {
  await page.waitForFunction((w: string[]) => {
    const d = (window as unknown as { depthDemo: { state(): { busy: boolean } } }).depthDemo;
    return !d.state().busy && w.includes(document.body.dataset.state ?? '');
  }, { timeout, polling: 50 }, want);
  // Settled twice 100 ms apart (a queued change starts at once when a stage ends, but be sure).
  await new Promise((r) => setTimeout(r, 100));
  await page.waitForFunction(() => !(window as unknown as { depthDemo: { state(): { busy: boolean } } }).depthDemo.state().busy, { timeout, polling: 50 });
  return page.evaluate(() => document.body.dataset.state ?? '');
}

/** Clicks Run once it is enabled: a click on the disabled button is lost, and the run it meant never comes. */
async function clickRun(page: Page): Promise<void> {
  await page.waitForSelector('#run:not([disabled])', { timeout: 60_000 });
  await page.click('#run');
}

/** In the page: waits for the stage `stage`, then runs `action` there at once (no round trip in between); returns the state then. */
async function duringStage(page: Page, stage: string, action: string): Promise<PageState> {
  return page.evaluate(async (stage: string, action: string) => {
    const d = (window as unknown as { depthDemo: { state(): PageState } }).depthDemo;
    const t0 = performance.now();
    while (d.state().stage !== stage) {
      if (performance.now() - t0 > 60_000) throw new Error(`stage ${stage} never came (at ${JSON.stringify(d.state())})`);
      await new Promise((r) => setTimeout(r, 2));
    }
    const at = d.state();
    // eslint-disable-next-line no-new-func
    await new Function(`return (async () => { ${action} })()`)();
    return at;
  }, stage, action);
}

async function main(): Promise<void> {
  const arg = (k: string): string | undefined => { const i = process.argv.indexOf(k); return i > 0 ? process.argv[i + 1] : undefined; };
  const dist = arg('--dist');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-flow-'));
  // The visitor's two folders, each with a weights.safetensors.
  for (const [dir, from] of [['A', MODEL_A], ['B', MODEL_B]] as const) {
    fs.mkdirSync(path.join(tmp, dir));
    fs.copyFileSync(from, path.join(tmp, dir, 'weights.safetensors'));
  }
  const serve = (file: string, port = 0): Promise<StaticServer> => {
    const m = pageWeightsMount(file);
    return serveStatic({ ...demoMounts(ROOT), ...(dist ? { '/dist/': dist } : {}), [m.urlPath]: m.file }, { port });
  };
  const query = `${pageWeightsMount(path.join(tmp, 'A', 'weights.safetensors')).query}&backend=wasm`;
  let server = await serve(path.join(tmp, 'A', 'weights.safetensors'));
  const browser = await openChromium();
  const errors: string[] = [];
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.setViewport({ width: 1280, height: 800 });
    // The contract before anything is loaded.
    await page.goto(`${server.url}/?backend=wasm`, { waitUntil: 'load' });
    const initial = await state(page);

    // serve --page-weights A/weights.safetensors, the example photo.
    await page.goto(`${server.url}/${query}`, { waitUntil: 'load' });
    await settle(page, ['ready']);
    await page.click('#example');
    await settle(page, ['done']);
    const a = { state: await state(page), depthHead: await depthHead(page), numTensors: await numTensors(page) };

    // The server restarted on B/weights.safetensors: same URL, same name, same size.
    const port = server.port;
    await server.close();
    server = await serve(path.join(tmp, 'B', 'weights.safetensors'), port);
    await page.goto(`${server.url}/${query}`, { waitUntil: 'load' });
    await settle(page, ['ready']);
    await page.click('#example');
    await settle(page, ['done']);
    const b = { state: await state(page), depthHead: await depthHead(page), status: await text(page, '#status'), modelLine: await text(page, '#model-line') };
    // Unchanged since: read from the cache.
    await page.goto(`${server.url}/${query}`, { waitUntil: 'load' });
    await settle(page, ['ready']);
    const bAgain = { state: await state(page) };
    await page.click('#example');
    await settle(page, ['done']);
    const baseline = await numTensors(page);

    // Input size: re-runs (and the runs below are short at 126: the cpu one too).
    await page.$eval('#input-size', (el) => { (el as HTMLInputElement).value = '126'; el.dispatchEvent(new Event('change')); });
    await settle(page, ['done']);
    const inputSize = { runs: (await runs(page)).slice(-1) };

    // A backend change during a run: cpu (confirmed past its warning), then wasm picked mid-run.
    await page.select('#backend', 'cpu');
    await page.waitForSelector('#backend-confirm', { visible: true });
    await page.click('#backend-confirm');
    const atSwitch = await duringStage(page, 'run', `const s = document.querySelector('#backend'); s.value = 'wasm'; s.dispatchEvent(new Event('change'));`);
    await settle(page, ['done']);
    const backendSwitch = { atSwitch, after: await state(page), runs: (await runs(page)).slice(-2), select: await page.$eval('#backend', (el) => (el as HTMLSelectElement).value) };

    // A photo dropped anywhere on the page during a run: run after it.
    await clickRun(page);
    const atDrop = await duringStage(page, 'run', `
      const blob = await (await fetch('/examples/demo01.jpg')).blob();
      const dt = new DataTransfer();
      dt.items.add(new File([blob], 'dropped photo.jpg', { type: 'image/jpeg' }));
      document.querySelector('#result').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));`);
    await settle(page, ['done']);
    const dropMidRun = { atDrop, after: await state(page), runs: (await runs(page)).slice(-2) };

    // Cancel during a run: the worker (and all it held) goes; Run builds the model again and runs.
    await clickRun(page);
    const atCancel = await duringStage(page, 'run', `document.querySelector('#cancel').click();`);
    await settle(page, ['ready', 'done', 'idle']);
    const afterCancel = await state(page);
    const cancelStatus = await text(page, '#status');
    await clickRun(page);
    await settle(page, ['done']);
    const cancel = { atCancel, after: afterCancel, status: cancelStatus, afterRun: await state(page), numTensors: await numTensors(page), baseline };

    // The divider, dragged on the picture.
    const box = (await (await page.$('#viewer'))!.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.2, box.y + box.height / 2, { steps: 4 });
    await page.mouse.up();
    const divider = { state: (await state(page)).divider, clip: await page.$eval('#depth-canvas', (el) => (el as HTMLElement).style.clipPath) };

    // Downloads are named after the photo.
    await page.evaluate(() => {
      const w = window as unknown as { downloads: string[] };
      w.downloads = [];
      HTMLAnchorElement.prototype.click = function (this: HTMLAnchorElement) { w.downloads.push(this.download); };
    });
    await page.click('#dl-npy');
    await page.click('#dl-png16');
    await page.waitForFunction(() => (window as unknown as { downloads: string[] }).downloads.length === 2, { timeout: 10_000 });
    const downloads = await page.evaluate(() => (window as unknown as { downloads: string[] }).downloads);

    // webgl on SwiftShader: a warning before anything is built on it, and a way back to wasm.
    await page.select('#backend', 'webgl');
    await page.waitForFunction(() => (window as unknown as { depthDemo: { state(): PageState } }).depthDemo.state().wantedBackend === 'webgl', { timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 300));
    const st = await state(page);
    const softwareWarning = {
      visible: await page.$eval('#backend-warning', (el) => !el.classList.contains('hidden')),
      text: await text(page, '#backend-warning-text'), busy: st.busy, backend: st.backend,
      afterUseWasm: { visible: true, wanted: '' },
    };
    await page.click('#backend-wasm');
    await page.waitForFunction(() => (window as unknown as { depthDemo: { state(): PageState } }).depthDemo.state().wantedBackend === 'wasm', { timeout: 10_000 });
    softwareWarning.afterUseWasm = { visible: await page.$eval('#backend-warning', (el) => !el.classList.contains('hidden')), wanted: (await state(page)).wantedBackend };
    await settle(page, ['done', 'ready']);

    // auto: says in one line what it chose and what it passed over.
    await page.select('#backend', 'auto');
    await settle(page, ['done']);
    const auto = { state: await state(page), modelLine: await text(page, '#model-line'), status: await text(page, '#status') };

    // A checkpoint that does not say which model it is (a tiny .pth): the page asks for its configuration.
    const pth = path.join(tmp, 'mystery.pth');
    fs.copyFileSync(path.join(FIX, 'v2-tiny/weights.pth'), pth);
    await ((await page.$('#model-file')) as ElementHandle<HTMLInputElement>).uploadFile(pth);
    await settle(page, ['error']);
    const configError = await text(page, '#error');
    const configStatus = await text(page, '#status');
    const pickerShown = await page.$eval('#config-row', (el) => !el.classList.contains('hidden'));
    await ((await page.$('#config-file')) as ElementHandle<HTMLInputElement>).uploadFile(path.join(FIX, 'v2-tiny/config.json'));
    await settle(page, ['done', 'ready']);
    const needsConfig = { error: configError, status: configStatus, pickerShown, after: await state(page), afterError: await text(page, '#error') };

    // The phone: the visitor scrolls down to the controls and taps the example; the result and the status are in view.
    const phone = await browser.newPage();
    phone.on('pageerror', (e) => errors.push(String(e)));
    await phone.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true });
    await phone.goto(`${server.url}/${query}`, { waitUntil: 'load' });
    // Tapped while the model is still loading: the photo waits for it, then runs.
    await phone.$eval('#example', (el) => el.scrollIntoView({ block: 'center' }));
    const atTap = await state(phone);
    await phone.tap('#example');
    await settle(phone, ['done']);
    await new Promise((r) => setTimeout(r, 1500)); // the smooth scroll
    const rect = (sel: string) => phone.$eval(sel, (el) => { const r = el.getBoundingClientRect(); return { top: r.top, bottom: r.bottom }; });
    const phoneResult = { atTap, viewer: await rect('#viewer'), status: await rect('#status'), height: await phone.evaluate(() => window.innerHeight), state: await state(phone) };

    // The Depth Anything 3 and Video Depth Anything modes: their tabs mount them (bundles loaded on first use).
    const tabs = await page.$$eval('#modes [data-mode]', (els) => els.map((e) => `${(e as HTMLElement).dataset.mode}: ${e.textContent}`));
    const openMode = async (id: string): Promise<ModeView> => {
      // A DOM click: puppeteer's page.click waited forever here (its scroll-into-view on this page).
      await page.$eval(`#modes [data-mode="${id}"]`, (el) => (el as HTMLElement).click());
      await page.waitForSelector(`#mode-${id} [data-role=preset]`, { timeout: 60_000 });
      return page.evaluate((m: string) => {
        const sec = document.getElementById(`mode-${m}`)!;
        return {
          shown: !sec.hidden,
          singleHidden: document.getElementById('mode-single')!.hidden,
          presets: [...sec.querySelectorAll<HTMLOptionElement>('[data-role=preset] option')].map((o) => o.textContent ?? '').slice(1),
          controls: [...sec.querySelectorAll<HTMLElement>('[data-role]')].map((e) => e.dataset.role!).filter((r, i, a) => a.indexOf(r) === i),
        };
      }, id);
    };
    const multiview = await openMode('multiview');
    const stream = await openMode('stream');
    const modes = { tabs, multiview, stream, hash: await page.evaluate(() => location.hash) };

    const out: FlowResult = {
      initial, a, b, bAgain, sha256: { a: sha(MODEL_A), b: sha(MODEL_B) }, backendSwitch, dropMidRun, cancel, inputSize, divider, downloads,
      softwareWarning, auto, needsConfig, phone: phoneResult, modes, pageErrors: errors,
    };
    process.stdout.write(JSON.stringify(out) + '\n');
  } finally {
    await browser.close();
    await server.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

if (require.main === module) main().catch((e) => { console.error(e); process.exit(1); });
