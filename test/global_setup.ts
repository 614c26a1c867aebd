/**
 * One headless Chromium (two: plain and WebGPU-enabled) for the whole jest run instead of one per
 * page run: every browser test, and the `parity --browser` children they start, open a fresh
 * context in it (src/verify/chromium.ts openChromium; the variables reach the workers and their
 * children). Compiled shaders stay in the one GPU process between runs. DEPTH_ANYTHING_CHROMIUM_SHARED=0
 * turns it off (each run launches its own, as outside the tests). Without chromium or puppeteer-core
 * nothing is set here: the tests that need them say what is missing.
 */
import { existsSync } from 'fs';
import { SHARED_CHROMIUM_ENV, chromiumPath, launchChromium } from '../src/verify/chromium';

export default async function globalSetup(): Promise<void> {
  if (process.env.DEPTH_ANYTHING_CHROMIUM_SHARED === '0' || !existsSync(chromiumPath())) return;
  const g = globalThis as { sharedChromium?: { close(): Promise<void> }[] };
  g.sharedChromium = [];
  for (const webgpu of [false, true]) {
    const browser = await launchChromium({ webgpu });
    g.sharedChromium.push(browser);
    process.env[webgpu ? SHARED_CHROMIUM_ENV.webgpu : SHARED_CHROMIUM_ENV.plain] = browser.wsEndpoint();
  }
}
