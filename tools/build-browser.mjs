#!/usr/bin/env node
// Browser bundles (ESM, platform=browser) of the package's browser entry, the demo page and the
// test pages, into dist/. Entries whose source does not exist yet are skipped.
//   node tools/build-browser.mjs [--outdir DIR] [--sourcemaps]   (run by `npm run build` after tsc)
// Source maps: by default only the package entries (browser/index.mjs, core.mjs) get one, about
// 270 kB each (positions and names; --sourcemaps also embeds our TypeScript sources); the
// self-contained bundles' maps are 4 to 9 MB each (all of tfjs, three.js), which was three
// quarters of the published package. --sourcemaps writes them all, for debugging in a checkout.
import * as esbuild from 'esbuild';
import { existsSync, mkdirSync, copyFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// [source, output (relative to dist/), options]. The package entries leave @tensorflow/* to the
// user's bundler (one tfjs engine shared with the app); the standalone build and the pages carry
// everything (a <script type="module"> with no bundler). `map`: write a source map by default.
export const ENTRIES = [
  ['src/browser/index.ts', 'browser/index.mjs', { tfjsExternal: true, map: true }],
  ['src/browser/core.ts', 'browser/core.mjs', { tfjsExternal: true, map: true }],
  ['src/browser/index.ts', 'browser/depth-anything.standalone.mjs'],
  // The worker DepthAnythingWorker starts (found next to the bundle that imports it): tfjs inside,
  // since a worker has an engine of its own.
  ['src/browser/worker.ts', 'browser/depth-anything.worker.mjs'],
  ['web/app.ts', 'web/app.js'],
  // The page modes "several photos -> 3D" (Depth Anything 3) and "live video depth" (Video Depth
  // Anything streaming), standalone modules with their own UI and worker (web/modes.html shows them).
  ['web/multiview.ts', 'web/multiview.js'],
  ['web/stream.ts', 'web/stream.js'],
  // The pages `parity --browser` and `bench --browser` load (src/verify/browser_run.ts): published,
  // so those commands work from an installed package (about 1 MB each, minified, no map).
  ['src/verify/pages/parity_page.ts', 'browser/parity_page.js'],
  ['src/verify/pages/bench_page.ts', 'browser/bench_page.js'],
];

import { createRequire } from 'node:module';

/** Our code importing a Node built-in (or sharp, yauzl) fails the build; see tools/no-node-builtins.cjs. */
export const NODE_BUILTINS_FORBIDDEN = createRequire(import.meta.url)('./no-node-builtins.cjs');

/** `sourcemaps`: 'entries' (those marked `map`), 'all' or 'none'. */
export async function buildBrowser({ entries = ENTRIES, outdir = join(root, 'dist'), minify = true, quiet = false, sourcemaps = 'entries' } = {}) {
  const built = [];
  for (const [src, out, opts = {}] of entries) {
    const abs = join(root, src);
    if (!existsSync(abs)) continue;
    const outfile = join(outdir, out);
    const sourcemap = sourcemaps === 'all' || (sourcemaps === 'entries' && !!opts.map);
    // No stale map from an earlier build left beside a bundle that has none now.
    if (!sourcemap) rmSync(`${outfile}.map`, { force: true });
    await esbuild.build({
      entryPoints: [abs],
      outfile,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2020',
      minify,
      sourcemap,
      // The published maps carry positions and names, not our sources (the package ships no
      // TypeScript): stack traces and breakpoints map to src/ file and line, at a third of the size.
      sourcesContent: sourcemaps === 'all',
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
  const opts = { ...(at > 0 ? { outdir: resolve(process.argv[at + 1]) } : {}), ...(process.argv.includes('--sourcemaps') ? { sourcemaps: 'all' } : {}) };
  buildBrowser(opts).then(
    (built) => console.log(`browser bundles: ${built.map((f) => f.startsWith(root) ? f.slice(root.length + 1) : f).join(', ') || '(none)'}`),
    (e) => { console.error(e.message ?? e); process.exit(1); },
  );
}
