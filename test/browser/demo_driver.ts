/**
 * Drives the demo page in headless Chromium through its own controls (file inputs, backend
 * selector) and reads back what it computed. Used by the browser test and tools/demo-screenshot.
 */
import * as path from 'path';
import type { ElementHandle, Page } from 'puppeteer-core';
import { ChromiumSession, openChromium } from '../../src/verify/chromium';
import { StaticServer, serveStatic } from '../../src/node/static_server';
import { demoMounts } from '../../src/cli/serve';

export const ROOT = path.resolve(__dirname, '..', '..');

export interface Demo {
  browser: ChromiumSession;
  page: Page;
  server: StaticServer;
  /** Console errors and page errors seen so far. */
  errors: string[];
  close(): Promise<void>;
}

/** Serves web/ and `dist` (default: the repository's dist/) as `depth-anything serve` does, and opens the page. */
export async function openDemo(query = '', opts: { width?: number; height?: number; dist?: string } = {}): Promise<Demo> {
  const server = await serveStatic({ ...demoMounts(ROOT), ...(opts.dist ? { '/dist/': opts.dist } : {}) });
  let browser: ChromiumSession | undefined;
  try {
    browser = await openChromium();
    const page = await browser.newPage();
    await page.setViewport({ width: opts.width ?? 1280, height: opts.height ?? 800 });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(`${server.url}/${query}`, { waitUntil: 'load' });
    const b = browser;
    return { browser: b, page, server, errors, close: async () => { await b.close(); await server.close(); } };
  } catch (e) {
    await browser?.close();
    await server.close();
    throw e;
  }
}

/** Waits until document.body.dataset.state is one of `states`; returns it. */
export async function waitState(page: Page, states: string[], timeoutMs: number): Promise<string> {
  await page.waitForFunction((s: string[]) => s.includes(document.body.dataset.state ?? ''), { timeout: timeoutMs, polling: 200 }, states);
  return page.evaluate(() => document.body.dataset.state ?? '');
}

export async function selectBackend(page: Page, backend: string): Promise<void> {
  await page.select('#backend', backend);
}

export async function uploadModel(page: Page, file: string, timeoutMs = 300_000): Promise<string> {
  const input = (await page.$('#model-file')) as ElementHandle<HTMLInputElement>;
  await input.uploadFile(file);
  return waitState(page, ['ready', 'error'], timeoutMs);
}

export async function uploadImage(page: Page, file: string, timeoutMs = 600_000): Promise<string> {
  const input = (await page.$('#image-file')) as ElementHandle<HTMLInputElement>;
  await input.uploadFile(file);
  return waitState(page, ['done', 'error'], timeoutMs);
}

/** How the page answered while the model ran (document.body.dataset.state === 'running'). */
export interface Responsiveness {
  /** page.evaluate round trips answered while running (one every ~100 ms when the page is free). */
  answered: number;
  /** Ticks of a 100 ms setInterval in the page between the first and the last answer seen while running. */
  ticks: number;
  /** Longest wait for one round trip from the upload to the end of the run, ms (the frozen stretch, on the main thread). */
  longestMs: number;
  /** Seconds between the first and the last answer seen while running. */
  runningS: number;
}

/**
 * uploadImage, asking the page "what state are you in?" every ~100 ms until the run ends. A page
 * whose main thread runs the model answers once at most (after the run); a worker's page keeps answering.
 */
export async function uploadImageWatching(page: Page, file: string, timeoutMs = 600_000): Promise<{ state: string } & Responsiveness> {
  // The page's tick counter starts before the run (watchRun would start it too late on a frozen page).
  await page.evaluate(() => {
    const w = window as unknown as { demoTicks?: number };
    if (w.demoTicks === undefined) { w.demoTicks = 0; setInterval(() => { w.demoTicks!++; }, 100); }
  });
  const input = (await page.$('#image-file')) as ElementHandle<HTMLInputElement>;
  await input.uploadFile(file);
  return watchRun(page, timeoutMs);
}

/** Polls the page until the run ends (state done or error), counting its answers while running. */
export async function watchRun(page: Page, timeoutMs = 60 * 60_000): Promise<{ state: string } & Responsiveness> {
  await page.evaluate(() => {
    const w = window as unknown as { demoTicks?: number };
    if (w.demoTicks === undefined) { w.demoTicks = 0; setInterval(() => { w.demoTicks!++; }, 100); }
  });
  const t0 = Date.now();
  let answered = 0, longestMs = 0;
  let first: { t: number; ticks: number } | null = null, last: { t: number; ticks: number } | null = null;
  for (;;) {
    const asked = Date.now();
    const [state, ticks] = await page.evaluate(() => [document.body.dataset.state ?? '', (window as unknown as { demoTicks: number }).demoTicks] as const);
    const now = Date.now();
    longestMs = Math.max(longestMs, now - asked);
    if (state === 'running') {
      answered++;
      first ??= { t: now, ticks };
      last = { t: now, ticks };
    }
    if (state === 'done' || state === 'error') {
      return { state, answered, ticks: first && last ? last.ticks - first.ticks : 0, longestMs, runningS: first && last ? (last.t - first.t) / 1000 : 0 };
    }
    if (now - t0 > timeoutMs) throw new Error(`the page did not finish within ${timeoutMs} ms (state ${state})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface DemoResult {
  depth: Float32Array | null;
  width: number;
  height: number;
  ms: number | null;
  backend: string | null;
  error: string | null;
  numTensors: number;
}

export async function readResult(page: Page): Promise<DemoResult> {
  const r = await page.evaluate(async () => {
    const d = (window as unknown as { depthDemo: { depth: { width: number; height: number } | null; lastMs: number | null; backend: string | null; lastError: string | null; numTensors(): Promise<number>; depthBase64(): string | null } }).depthDemo;
    // numTensors asks the worker (where the model runs): a promise.
    return { b64: d.depthBase64(), width: d.depth?.width ?? 0, height: d.depth?.height ?? 0, ms: d.lastMs, backend: d.backend, error: d.lastError, numTensors: await d.numTensors() };
  });
  let depth: Float32Array | null = null;
  if (r.b64) {
    const buf = Buffer.from(r.b64, 'base64');
    depth = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  }
  return { depth, width: r.width, height: r.height, ms: r.ms, backend: r.backend, error: r.error, numTensors: r.numTensors };
}

export async function errorText(page: Page): Promise<string> {
  return page.$eval('#error', (el) => el.textContent ?? '');
}
