/**
 * Headless Chromium for the browser tests, the demo screenshot and `parity --browser`: Debian's
 * `chromium` driven by puppeteer-core (no bundled browser download). Pages must be served from
 * http://127.0.0.1 (see static_server.ts): about:blank and data: URLs are not secure contexts and
 * have no `navigator.gpu`.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
// Types only: puppeteer-core is an optional peer dependency (a dev dependency here), loaded on
// first use by loadPuppeteer(), so the library and the other commands never need it.
import type { Browser, Page, PuppeteerNode } from 'puppeteer-core';

/** The one line a user without puppeteer-core sees. */
export const PUPPETEER_MISSING =
  'parity --browser and bench --browser drive headless Chromium through puppeteer-core, which is not installed: npm install puppeteer-core (and Debian\'s chromium: apt-get install chromium, or set CHROMIUM_PATH)';

/** puppeteer-core, imported on first use; a missing package throws PUPPETEER_MISSING. */
export async function loadPuppeteer(): Promise<PuppeteerNode> {
  try {
    return (await import('puppeteer-core')).default;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    // Only the package itself missing; anything broken inside it keeps its own error.
    if ((err.code === 'MODULE_NOT_FOUND' || err.code === 'ERR_MODULE_NOT_FOUND') && /['"]puppeteer-core['"]/.test(err.message ?? '')) {
      throw new Error(PUPPETEER_MISSING);
    }
    throw e;
  }
}

export interface ChromiumOptions {
  /** Expose WebGPU (`--enable-unsafe-webgpu`); headless without a GPU gets SwiftShader's fallback adapter. */
  webgpu?: boolean;
  /** Defaults to $CHROMIUM_PATH, then /usr/bin/chromium. */
  executablePath?: string;
  /** Extra command-line flags. */
  args?: string[];
  /**
   * Longest a single DevTools call may wait, in ms (puppeteer's default is 3 minutes). A page busy
   * compiling WebGL shaders on SwiftShader holds its main thread longer than that. Default 20 min.
   */
  protocolTimeout?: number;
}

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

export function chromiumPath(explicit?: string): string {
  return explicit ?? process.env.CHROMIUM_PATH ?? DEFAULT_CHROMIUM;
}

/** Launches headless Chromium with a fresh profile that is removed when the browser closes. */
export async function launchChromium(opts: ChromiumOptions = {}): Promise<Browser> {
  const puppeteer = await loadPuppeteer();
  const executablePath = chromiumPath(opts.executablePath);
  if (!fs.existsSync(executablePath)) {
    throw new Error(`chromium not found at ${executablePath}: apt-get install chromium, or set CHROMIUM_PATH`);
  }
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'depth-anything-chromium-'));
  const args = [
    `--user-data-dir=${userDataDir}`,
    // Quiet, reproducible runs: no background downloads, updates or sync.
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
    // Chromium refuses to start its sandbox as root (CI containers).
    ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
    ...(opts.webgpu ? ['--enable-unsafe-webgpu'] : []),
    ...(opts.args ?? []),
  ];
  let browser: Browser;
  try {
    browser = await puppeteer.launch({ executablePath, headless: true, args, userDataDir, protocolTimeout: opts.protocolTimeout ?? 20 * 60_000 });
  } catch (e) {
    fs.rmSync(userDataDir, { recursive: true, force: true });
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new Error(`chromium at ${executablePath} did not start: ${msg}`);
  }
  // Chromium may still be flushing its profile as it exits: retry, and never throw from cleanup.
  const removeProfile = (): Promise<void> =>
    fs.promises.rm(userDataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }).catch(() => undefined);
  browser.once('disconnected', () => void removeProfile());
  const close = browser.close.bind(browser);
  browser.close = async () => {
    try {
      await close();
    } finally {
      await removeProfile();
    }
  };
  return browser;
}

/**
 * Where a run gets its pages: its own Chromium, or a fresh browser context (own cookies, storage
 * and caches) in a Chromium that is already running. `close` ends the browser or only the context.
 */
export interface ChromiumSession {
  newPage(): Promise<Page>;
  /** The browser's version string. */
  version: string;
  close(): Promise<void>;
}

/**
 * A running Chromium to share, by the DevTools WebSocket address in these variables (plain and
 * WebGPU-enabled: a page's `auto` backend sees navigator.gpu only in the second). The test suite
 * starts both once (test/global_setup.ts) instead of one browser per page run; so does anyone who
 * exports them. Unset: each run launches its own.
 */
export const SHARED_CHROMIUM_ENV = { plain: 'DEPTH_ANYTHING_CHROMIUM_WS', webgpu: 'DEPTH_ANYTHING_CHROMIUM_WS_WEBGPU' } as const;

/** Opens a session: a context in the shared Chromium when one is set (above), else a new browser. */
export async function openChromium(opts: ChromiumOptions = {}): Promise<ChromiumSession> {
  const endpoint = process.env[opts.webgpu ? SHARED_CHROMIUM_ENV.webgpu : SHARED_CHROMIUM_ENV.plain];
  if (endpoint && !opts.args?.length && opts.executablePath === undefined) {
    const puppeteer = await loadPuppeteer();
    let browser: Browser;
    try {
      browser = await puppeteer.connect({ browserWSEndpoint: endpoint, protocolTimeout: opts.protocolTimeout ?? 20 * 60_000 });
    } catch (e) {
      throw new Error(`the shared chromium at ${endpoint} (${opts.webgpu ? SHARED_CHROMIUM_ENV.webgpu : SHARED_CHROMIUM_ENV.plain}) did not answer: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
    }
    const context = await browser.createBrowserContext();
    return {
      newPage: () => context.newPage(),
      version: await browser.version(),
      close: async () => {
        try {
          await context.close();
        } finally {
          await browser.disconnect();
        }
      },
    };
  }
  const browser = await launchChromium(opts);
  return { newPage: () => browser.newPage(), version: await browser.version(), close: () => browser.close() };
}
