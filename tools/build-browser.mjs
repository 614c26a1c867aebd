#!/usr/bin/env node
// Browser bundles (ESM, platform=browser) of the package's browser entry, the demo page and the
// test pages, into dist/. Entries whose source does not exist yet are skipped.
//   node tools/build-browser.mjs [--outdir DIR]   (run by `npm run build` after tsc)
import * as esbuild from 'esbuild';
import { existsSync, mkdirSync, copyFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// [source, output (relative to dist/), options]. The package entries leave @tensorflow/* to the
// user's bundler (one tfjs engine shared with the app); the standalone build and the pages carry
// everything (a <script type="module"> with no bundler).
export const ENTRIES = [
  ['src/browser/index.ts', 'browser/index.mjs', { tfjsExternal: true }],
  ['src/browser/core.ts', 'browser/core.mjs', { tfjsExternal: true }],
  ['src/browser/index.ts', 'browser/depth-anything.standalone.mjs'],
  // The worker DepthAnythingWorker starts (found next to the bundle that imports it): tfjs inside,
  // since a worker has an engine of its own.
  ['src/browser/worker.ts', 'browser/depth-anything.worker.mjs'],
  ['web/app.ts', 'web/app.js'],
  ['src/verify/pages/parity_page.ts', 'browser/parity_page.js'],
  ['src/verify/pages/bench_page.ts', 'browser/bench_page.js'],
];

import { createRequire } from 'node:module';

/** Our code importing a Node built-in (or sharp, yauzl) fails the build; see tools/no-node-builtins.cjs. */
export const NODE_BUILTINS_FORBIDDEN = createRequire(import.meta.url)('./no-node-builtins.cjs');

export async function buildBrowser({ entries = ENTRIES, outdir = join(root, 'dist'), minify = true, quiet = false } = {}) {
  const built = [];
  for (const [src, out, opts = {}] of entries) {
    const abs = join(root, src);
    if (!existsSync(abs)) continue;
    const outfile = join(outdir, out);
    await esbuild.build({
      entryPoints: [abs],
      outfile,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2020',
      minify,
      sourcemap: true,
      metafile: false,
      logLevel: quiet ? 'silent' : 'warning',
      plugins: [NODE_BUILTINS_FORBIDDEN],
      external: opts.tfjsExternal ? ['@tensorflow/*'] : [],
      // The bundle's own URL, where worker_client.ts finds depth-anything.worker.mjs.
      define: { 'process.env.NODE_ENV': '"production"', __DEPTH_ANYTHING_MODULE_URL__: 'import.meta.url' },
    });
    built.push(outfile);
  }
  // The wasm backend's binaries, served next to the bundles (the page's default wasmPaths).
  const wasmDir = join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
  if (existsSync(wasmDir)) {
    mkdirSync(join(outdir, 'wasm'), { recursive: true });
    for (const f of readdirSync(wasmDir)) if (f.endsWith('.wasm')) copyFileSync(join(wasmDir, f), join(outdir, 'wasm', f));
  }
  return built;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // --outdir DIR: somewhere else than dist/ (tests build into a folder of their own).
  const at = process.argv.indexOf('--outdir');
  buildBrowser(at > 0 ? { outdir: resolve(process.argv[at + 1]) } : {}).then(
    (built) => console.log(`browser bundles: ${built.map((f) => f.startsWith(root) ? f.slice(root.length + 1) : f).join(', ') || '(none)'}`),
    (e) => { console.error(e.message ?? e); process.exit(1); },
  );
}
