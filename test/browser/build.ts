/**
 * Builds the browser bundles into a fresh temporary folder (laid out as dist/: browser/, web/,
 * wasm/), so parallel test files never read half-written bundles. Returns the folder.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export function buildBrowser(): string {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'depth-anything-dist-'));
  // tools/build-browser.mjs is an ES module, which jest (CommonJS) cannot import: run it in a child.
  execFileSync(process.execPath, [path.resolve(__dirname, '../../tools/build-browser.mjs'), '--outdir', out], { stdio: 'pipe' });
  return out;
}
