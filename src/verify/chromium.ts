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
import type { Browser, PuppeteerNode } from 'puppeteer-core';

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
