/**
 * Runs a test page (src/verify/pages/parity_page.ts, bench_page.ts) in headless Chromium and returns
 * what it computed: bundles the page (esbuild, from src/ in a checkout; the prebuilt
 * dist/browser/<page>.js of `npm run build` otherwise), serves it and the input files from
 * 127.0.0.1 (WebGPU needs a secure context: about:blank and data: pages have no navigator.gpu),
 * opens Chromium (src/verify/chromium.ts: its own, or a context in a shared one) and drives the page through src/verify/page_task.ts.
 */
import { existsSync, promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Page } from 'puppeteer-core';
import { openChromium } from './chromium';
import { restoreNonFinite } from './page_task';
import { serveStatic } from '../node/static_server';

export type PageName = 'parity_page' | 'bench_page';

/** The repository (or installed package) root: the folder above this file holding package.json. */
function packageRoot(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = up;
  }
  return dir;
}

/** Writes <page>.js and index.html into `outdir`. */
async function preparePage(page: PageName, outdir: string): Promise<void> {
  const root = packageRoot();
  const src = path.join(root, 'src', 'verify', 'pages', `${page}.ts`);
  const built = path.join(root, 'dist', 'browser', `${page}.js`);
  if (existsSync(src)) {
    // esbuild is a dev dependency: present wherever src/ is.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const esbuild = require('esbuild') as typeof import('esbuild');
    await esbuild.build({
      entryPoints: [src], outfile: path.join(outdir, `${page}.js`), bundle: true, format: 'esm', platform: 'browser',
      target: 'es2020', minify: false, sourcemap: false, logLevel: 'error', define: { 'process.env.NODE_ENV': '"production"' },
    });
  } else if (existsSync(built)) {
    await fs.copyFile(built, path.join(outdir, `${page}.js`));
  } else {
    throw new Error(`--browser needs the page bundle ${built}: reinstall depth-anything-tfjs (the package ships it), or run npm run build in a checkout`);
  }
  await fs.writeFile(path.join(outdir, 'index.html'), `<!doctype html><meta charset="utf-8"><title>${page}</title><link rel="icon" href="data:,"><script type="module" src="./${page}.js"></script>\n`);
}

export interface BrowserRunOptions {
  /** URL path (under /files/) -> file on disk, served to the page. */
  files: Record<string, string>;
  /** Passed to the page's task (plain data); `/files/NAME` URLs refer to `files`. */
  args: unknown;
  /** Start Chromium with WebGPU exposed. */
  webgpu: boolean;
  /** Give up after this long (default 60 minutes). */
  timeoutMs?: number;
  /** Forward the page's console to stderr (default: only errors). */
  verbose?: boolean;
}

export interface BrowserRunResult<T> {
  result: T;
  bytes?: Buffer;
  chromium: string;
}

type PollState = { done: false } | { done: true; result?: unknown; error?: string; bytes?: number };

const CHUNK = 4 << 20;

async function readBytes(page: Page, total: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let off = 0; off < total; off += CHUNK) {
    const b64 = await page.evaluate((o: number, n: number) => (globalThis as unknown as { depthAnythingPage: { chunk(o: number, n: number): string } }).depthAnythingPage.chunk(o, n), off, CHUNK);
    parts.push(Buffer.from(b64, 'base64'));
  }
  return Buffer.concat(parts);
}

/** Runs `page` in headless Chromium with `args`; throws the page's error as one line. */
export async function runPageInChromium<T>(pageName: PageName, opts: BrowserRunOptions): Promise<BrowserRunResult<T>> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'depth-anything-page-'));
  try {
    await preparePage(pageName, dir);
    const mounts: Record<string, string> = { '/': dir };
    for (const [name, file] of Object.entries(opts.files)) mounts[`/files/${name}`] = path.resolve(file);
    const server = await serveStatic(mounts);
    try {
      const browser = await openChromium({ webgpu: opts.webgpu });
      try {
        const chromium = browser.version;
        const page = await browser.newPage();
        const pageErrors: string[] = [];
        page.on('pageerror', (e) => pageErrors.push(e instanceof Error ? e.message : String(e)));
        page.on('console', (m) => {
          if (opts.verbose || m.type() === 'error') process.stderr.write(`[chromium ${m.type()}] ${m.text()}\n`);
        });
        await page.goto(`${server.url}/index.html`, { waitUntil: 'load' });
        await page.waitForFunction(() => 'depthAnythingPage' in globalThis, { timeout: 60_000 }).catch(() => {
          throw new Error(`the ${pageName} page did not start in Chromium${pageErrors.length ? `: ${pageErrors[0]}` : ''}`);
        });
        await page.evaluate((a: unknown) => (globalThis as unknown as { depthAnythingPage: { start(a: unknown): void } }).depthAnythingPage.start(a), opts.args as never);
        const deadline = Date.now() + (opts.timeoutMs ?? 60 * 60_000);
        let state: PollState = { done: false };
        while (!state.done) {
          if (Date.now() > deadline) throw new Error(`${pageName} in Chromium did not finish within ${Math.round((opts.timeoutMs ?? 3_600_000) / 1000)} s`);
          await new Promise((r) => setTimeout(r, 250));
          state = await page.evaluate(() => (globalThis as unknown as { depthAnythingPage: { poll(): PollState } }).depthAnythingPage.poll());
        }
        if (state.error !== undefined) throw new Error(`in Chromium: ${state.error}`);
        const bytes = state.bytes ? await readBytes(page, state.bytes) : undefined;
        return { result: restoreNonFinite(state.result) as T, chromium, ...(bytes ? { bytes } : {}) };
      } finally {
        await browser.close();
      }
    } finally {
      await server.close();
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
