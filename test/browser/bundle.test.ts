/**
 * The browser entries' module graph: bundled by esbuild for platform=browser, with any Node
 * built-in (or sharp/yauzl) imported by our code an error. Fast: no browser.
 */
import * as path from 'path';
import * as esbuild from 'esbuild';

const ROOT = path.resolve(__dirname, '..', '..');

// The same plugin `npm run build` uses.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const NODE_BUILTINS_FORBIDDEN = require('../../tools/no-node-builtins.cjs') as esbuild.Plugin;

async function bundle(contents: string): Promise<esbuild.BuildResult & { metafile: esbuild.Metafile }> {
  return esbuild.build({
    stdin: { contents, resolveDir: ROOT, sourcefile: 'entry.ts', loader: 'ts' },
    bundle: true, format: 'esm', platform: 'browser', write: false, metafile: true, logLevel: 'silent',
    plugins: [NODE_BUILTINS_FORBIDDEN],
  }) as Promise<esbuild.BuildResult & { metafile: esbuild.Metafile }>;
}

describe('browser bundle', () => {
  it.each([
    ['the package browser entry', "export * from './src/browser/index';"],
    ['the core entry (no backends)', "export * from './src/browser/core';"],
    ['the demo page', "import './web/app';"],
    ['the worker entry', "import './src/browser/worker';"],
  ])('%s has no Node built-ins, sharp or yauzl in its graph', async (_name, entry) => {
    const r = await bundle(entry);
    expect(r.errors).toEqual([]);
    const ours = Object.keys(r.metafile.inputs).filter((f) => !f.includes('node_modules'));
    // Node-only modules of this package must not be pulled in through some re-export.
    for (const nodeOnly of ['src/node/image.ts', 'src/node/outputs.ts', 'src/node/weights_file.ts', 'src/io/zip.ts', 'src/node/atomic.ts', 'src/backends/node.ts', 'src/node/depth_anything.ts', 'src/backends/wasm_threads.ts']) {
      expect(ours).not.toContain(nodeOnly);
    }
    expect(Object.keys(r.metafile.inputs).filter((f) => /node_modules[\\/](sharp|yauzl|@img)[\\/]/.test(f))).toEqual([]);
  });

  it.each(['fs', 'node:path', 'worker_threads', 'zlib', 'sharp'])('the check rejects our code importing %s', async (mod) => {
    await expect(bundle(`import * as m from '${mod}'; console.log(m);`)).rejects.toThrow(/not allowed in the browser bundle/);
  });
});
