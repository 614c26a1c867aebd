#!/usr/bin/env node
// Browser bundle sizes (esbuild, ESM, minified; gzip -9) of the core entry alone and with each
// tfjs backend, and of the full entry. `node tools/bundle-sizes.mjs [--json]`
import * as esbuild from 'esbuild';
import { gzipSync } from 'node:zlib';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_BUILTINS_FORBIDDEN } from './build-browser.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const core = "export * from './src/browser/core';\n";
const CASES = [
  ['core (no backend)', core],
  ['core + cpu', core + "import '@tensorflow/tfjs-backend-cpu';\n"],
  ['core + webgl', core + "import '@tensorflow/tfjs-backend-webgl';\n"],
  ['core + webgpu', core + "import '@tensorflow/tfjs-backend-webgpu';\n"],
  ['core + wasm (+ .wasm file)', core + "import '@tensorflow/tfjs-backend-wasm';\n"],
  ['full entry (all four)', "export * from './src/browser/index';\n"],
];

export async function bundleSizes() {
  const rows = [];
  for (const [name, contents] of CASES) {
    const r = await esbuild.build({
      stdin: { contents, resolveDir: root, sourcefile: 'entry.ts', loader: 'ts' },
      bundle: true, format: 'esm', platform: 'browser', target: 'es2020', minify: true, write: false,
      logLevel: 'silent', plugins: [NODE_BUILTINS_FORBIDDEN], define: { 'process.env.NODE_ENV': '"production"' },
    });
    const js = r.outputFiles[0].contents;
    rows.push({ name, minified: js.length, gzip: gzipSync(js, { level: 9 }).length });
  }
  return rows;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const rows = await bundleSizes();
  if (process.argv.includes('--json')) console.log(JSON.stringify(rows, null, 2));
  else {
    const kb = (n) => `${(n / 1024).toFixed(0)} KiB`;
    console.log('| bundle | minified | gzip |\n|---|---:|---:|');
    for (const r of rows) console.log(`| ${r.name} | ${kb(r.minified)} | ${kb(r.gzip)} |`);
  }
}
