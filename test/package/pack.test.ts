/**
 * The published package, as a user gets it: builds a copy of this checkout (the files git knows,
 * so the repository's own dist/ is left alone), packs it with `npm pack`, checks what the tarball
 * holds, installs it into a fresh project offline (from the npm cache `npm ci` filled) and uses it
 * there the ways a user would: ESM import, CommonJS require, TypeScript (three module resolutions),
 * an esbuild browser bundle, and the CLI (`--help`, `serve`, and `bench --browser` without
 * puppeteer-core). About a minute on 2 cores, most of it the build.
 *
 * The install is `npm ci --offline --ignore-scripts` against a lock derived from this repository's
 * package-lock.json (its non-dev entries, the tarball in place of the root):
 * - a plain `npm install <tgz>` resolves semver ranges, which needs registry metadata that `npm ci`
 *   never caches (ENOTCACHED offline); with the lock every package is an exact version and
 *   integrity, found in the cache;
 * - --ignore-scripts: @tensorflow/tfjs-node(-gpu)'s install scripts download libtensorflow (network,
 *   hundreds of MB) and are optional; the library loads them lazily (`--backend tensorflow`), sharp
 *   ships prebuilt binaries as packages, webgpu's postinstall only touches macOS.
 */
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '../..');
const NAME = 'depth-anything-tfjs';
/** The tarball's unpacked size, in bytes (npm's MB), the wasm binaries included. */
const UNPACKED_LIMIT = 12_000_000;
/** The biggest source map allowed in the package (the two package entries' maps are ~450 kB). */
const MAP_LIMIT = 500_000;
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const ESBUILD = path.join(ROOT, 'node_modules', 'esbuild');

interface PackResult { filename: string; size: number; unpackedSize: number; entryCount: number; integrity: string; files: { path: string; size: number }[] }

/** Runs a command; on failure throws its exit status and the tail of its output. */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  try {
    return execFileSync(cmd, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  } catch (e) {
    const err = e as { status?: number; stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${err.status}:\n${`${err.stdout ?? ''}\n${err.stderr ?? ''}`.slice(-4000)}`);
  }
}

/** Runs `node` on a script; returns what it printed as JSON. */
function nodeJson(cwd: string, args: string[], env?: NodeJS.ProcessEnv): Record<string, unknown> {
  const out = run(process.execPath, args, cwd, env).trim().split('\n');
  return JSON.parse(out[out.length - 1]) as Record<string, unknown>;
}

let tmp: string;
let pack: PackResult;
let tarball: string;
let consumer: string;
let pkg: { version: string; exports: Record<string, unknown>; typesVersions: Record<string, unknown>; bin: Record<string, string>; main: string; types: string; dependencies: Record<string, string> };

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'depth-anything-pack-'));
  const stage = path.join(tmp, 'stage');
  const out = path.join(tmp, 'out');
  consumer = path.join(tmp, 'consumer');
  for (const d of [stage, out, consumer]) fs.mkdirSync(d);

  // A copy of the checkout (tracked files and new ones git does not ignore) with its node_modules,
  // built as `prepare` builds it; the pack itself skips scripts (their output would mix with --json).
  const files = run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], ROOT).split('\0').filter((f) => f && f !== 'node_modules');
  for (const f of files) {
    const src = path.join(ROOT, f);
    if (!fs.statSync(src, { throwIfNoEntry: false })?.isFile()) continue; // deleted, not yet committed
    fs.mkdirSync(path.dirname(path.join(stage, f)), { recursive: true });
    fs.copyFileSync(src, path.join(stage, f));
  }
  fs.symlinkSync(fs.realpathSync(path.join(ROOT, 'node_modules')), path.join(stage, 'node_modules'), 'dir');
  run('npm', ['run', 'build'], stage);
  pack = (JSON.parse(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', out], stage)) as PackResult[])[0];
  tarball = path.join(out, pack.filename);
  pkg = JSON.parse(fs.readFileSync(path.join(stage, 'package.json'), 'utf8'));

  // The user's project: depends on the tarball; locked to this repository's versions.
  const spec = `file:${path.relative(consumer, tarball)}`;
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> };
  const me = lock.packages[''];
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', version: '1.0.0', dependencies: { [NAME]: spec } },
    [`node_modules/${NAME}`]: {
      version: pkg.version, resolved: spec, integrity: pack.integrity,
      ...Object.fromEntries(['license', 'dependencies', 'optionalDependencies', 'peerDependencies', 'peerDependenciesMeta', 'bin', 'engines'].filter((k) => me[k] !== undefined).map((k) => [k, me[k]])),
    },
  };
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (key === '' || entry.dev) continue;
    // Needed by a dev and an optional dependency: here only the optional one can need it.
    const copy = { ...entry };
    if (copy.devOptional) {
      delete copy.devOptional;
      copy.optional = true;
    }
    packages[key] = copy;
  }
  fs.writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, dependencies: { [NAME]: spec } }, null, 2));
  fs.writeFileSync(path.join(consumer, 'package-lock.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2));
  run('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], consumer);
}, 600_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('npm pack', () => {
  test(`unpacked size is at most ${UNPACKED_LIMIT / 1e6} MB`, () => {
    process.stderr.write(`npm pack: ${pack.filename} ${(pack.size / 1e6).toFixed(2)} MB, unpacked ${(pack.unpackedSize / 1e6).toFixed(2)} MB, ${pack.entryCount} files\n`);
    expect(pack.unpackedSize).toBeLessThanOrEqual(UNPACKED_LIMIT);
    expect(pack.files.reduce((s, f) => s + f.size, 0)).toBe(pack.unpackedSize);
  });

  test('holds every entry point: exports, main, types, bin, the demo page, the wasm binaries, the test page bundles', () => {
    const names = new Set(pack.files.map((f) => f.path));
    const targets = new Set<string>([pkg.main, pkg.types, ...Object.values(pkg.bin), 'web/index.html', 'web/examples/demo01.jpg', 'dist/web/app.js', 'dist/browser/parity_page.js', 'dist/browser/bench_page.js', 'README.md']);
    const walk = (v: unknown): void => {
      if (typeof v === 'string') targets.add(v.replace(/^\.\//, ''));
      else if (v && typeof v === 'object') Object.values(v).forEach(walk);
    };
    walk(pkg.exports);
    walk(pkg.typesVersions);
    const wildcard = [...targets].filter((t) => t.includes('*'));
    for (const t of wildcard) targets.delete(t);
    expect([...targets].filter((t) => !names.has(t))).toEqual([]);
    // ./wasm/*: the tfjs wasm backend's three binaries.
    expect(wildcard).toEqual(['dist/wasm/*']);
    expect([...names].filter((n) => n.startsWith('dist/wasm/')).sort()).toEqual(['dist/wasm/tfjs-backend-wasm-simd.wasm', 'dist/wasm/tfjs-backend-wasm-threaded-simd.wasm', 'dist/wasm/tfjs-backend-wasm.wasm']);
  });

  test('no sources, tests or big source maps', () => {
    const names = pack.files.map((f) => f.path);
    // TypeScript sources (web/app.ts, src/), tests, tools, docs, weights, configs.
    expect(names.filter((n) => (n.endsWith('.ts') && !n.endsWith('.d.ts')) || /^(src|test|tools|docs|weights)\//.test(n) || /^tsconfig|^jest\.config/.test(n))).toEqual([]);
    // The page and its example photo (web/examples/demo01.jpg, 66 kB).
    expect(names.filter((n) => n.startsWith('web/')).sort()).toEqual(['web/examples/demo01.jpg', 'web/index.html']);
    // The test pages ship as bundles only: no declarations of their (non-)exports.
    expect(names.filter((n) => /_page\.d\.ts$/.test(n) || n.startsWith('dist/verify/pages/'))).toEqual([]);
    const maps = pack.files.filter((f) => f.path.endsWith('.map'));
    expect(maps.filter((f) => f.size > MAP_LIMIT).map((f) => `${f.path} ${f.size}`)).toEqual([]);
    // A map only where its file is published and points at it.
    for (const m of maps) expect(names).toContain(m.path.slice(0, -'.map'.length));
  });
});

describe('installed into a fresh project (offline)', () => {
  test('puppeteer-core is not installed with it (an optional peer)', () => {
    expect(fs.existsSync(path.join(consumer, 'node_modules', NAME, 'package.json'))).toBe(true);
    expect(fs.existsSync(path.join(consumer, 'node_modules', 'puppeteer-core'))).toBe(false);
  });

  test('ESM import', () => {
    const r = nodeJson(consumer, ['--input-type=module', '-e', `
      import { DepthAnything, Segmenter, initBackend, decodeImage, parseSafetensors, VARIANTS } from '${NAME}';
      import * as all from '${NAME}';
      console.log(JSON.stringify({
        DepthAnything: typeof DepthAnything, load: typeof DepthAnything.load, Segmenter: typeof Segmenter, initBackend: typeof initBackend,
        decodeImage: typeof decodeImage, parseSafetensors: typeof parseSafetensors, variants: Object.keys(VARIANTS).length, names: Object.keys(all).length,
        url: import.meta.resolve('${NAME}'),
      }));`]);
    expect(r).toMatchObject({ DepthAnything: 'function', load: 'function', Segmenter: 'function', initBackend: 'function', decodeImage: 'function', parseSafetensors: 'function' });
    expect(r.variants).toBeGreaterThan(4);
    expect(r.names).toBeGreaterThan(50);
    expect(r.url).toMatch(new RegExp(`/node_modules/${NAME}/dist/index\\.js$`));
  });

  test('CommonJS require, and the subpaths resolve to published files', () => {
    const r = nodeJson(consumer, ['-e', `
      const m = require('${NAME}');
      const fs = require('fs');
      const resolved = ['${NAME}/browser', '${NAME}/core', '${NAME}/worker', '${NAME}/wasm/tfjs-backend-wasm-simd.wasm'].map((s) => require.resolve(s));
      console.log(JSON.stringify({
        DepthAnything: typeof m.DepthAnything, load: typeof m.DepthAnything.load, zoeDepth: typeof m.zoeDepth, loadWeightsFile: typeof m.loadWeightsFile,
        version: require('${NAME}/package.json').version, resolved: resolved.map((f) => [f.split('/node_modules/${NAME}/')[1], fs.statSync(f).size > 1000]),
        puppeteerLoaded: Object.keys(require.cache).some((k) => k.includes('puppeteer')),
      }));`]);
    expect(r).toMatchObject({ DepthAnything: 'function', load: 'function', zoeDepth: 'function', loadWeightsFile: 'function', version: pkg.version, puppeteerLoaded: false });
    expect(r.resolved).toEqual([
      ['dist/browser/index.mjs', true], ['dist/browser/core.mjs', true], ['dist/browser/depth-anything.worker.mjs', true], ['dist/wasm/tfjs-backend-wasm-simd.wasm', true],
    ]);
  });

  test('TypeScript: the declarations type-check (nodenext, bundler and node10 resolution, skipLibCheck off)', () => {
    const dir = path.join(consumer, 'ts');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'check.ts'), `
import { DepthAnything, initBackend, type DepthMap, type ModelConfig } from '${NAME}';
import { DepthAnything as BrowserDepthAnything, DepthAnythingWorker, initBrowserBackend } from '${NAME}/browser';
import * as core from '${NAME}/core';

export const load: (...a: Parameters<typeof DepthAnything.load>) => Promise<DepthAnything> = DepthAnything.load;
export const browserLoad: typeof BrowserDepthAnything.load = core.DepthAnything.load;
export const worker: typeof DepthAnythingWorker = core.DepthAnythingWorker;
export const fns = [initBackend, initBrowserBackend];
export function size(d: DepthMap, c: ModelConfig): [number, number, string] { return [d.width, d.height, c.encoder]; }
// @ts-expect-error a class is not a number: fails to compile if the types were missing (any)
export const wrong: number = DepthAnything;
`);
    for (const [module, moduleResolution] of [['nodenext', 'nodenext'], ['esnext', 'bundler'], ['commonjs', 'node10']]) {
      fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
        compilerOptions: { strict: true, noEmit: true, module, moduleResolution, target: 'es2020', lib: ['es2020', 'dom'], skipLibCheck: false },
        files: ['check.ts'],
      }));
      run(process.execPath, [TSC, '-p', dir], dir);
    }
  });

  test('an esbuild browser bundle takes the browser entries and runs', () => {
    const dir = path.join(consumer, 'web');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'app.js'), `
export { DepthAnything, DepthAnythingWorker, initBrowserBackend, drawDepth, BROWSER_BACKENDS } from '${NAME}';
export { DepthAnything as BrowserDepthAnything } from '${NAME}/browser';
export { DepthAnything as CoreDepthAnything } from '${NAME}/core';
`);
    const r = nodeJson(consumer, ['-e', `
      require(${JSON.stringify(ESBUILD)}).build({
        entryPoints: ['web/app.js'], outfile: 'web/out.mjs', bundle: true, format: 'esm', platform: 'browser', target: 'es2020',
        metafile: true, logLevel: 'silent', absWorkingDir: process.cwd(),
      }).then((r) => console.log(JSON.stringify({ errors: r.errors.length, warnings: r.warnings.map((w) => w.text), inputs: Object.keys(r.metafile.inputs) })));`]);
    expect(r.errors).toBe(0);
    expect(r.warnings).toEqual([]);
    const inputs = r.inputs as string[];
    // The "browser" condition: the ESM bundles, never the Node entry (sharp, fs) or puppeteer.
    expect(inputs.filter((i) => i.includes(`node_modules/${NAME}/`)).sort()).toEqual([`node_modules/${NAME}/dist/browser/core.mjs`, `node_modules/${NAME}/dist/browser/index.mjs`]);
    expect(inputs.filter((i) => /node_modules\/(sharp|puppeteer-core|yauzl|@tensorflow\/tfjs-node)\//.test(i))).toEqual([]);
    // Evaluated with no `process`, so tfjs takes it for a browser rather than Node.
    const types = nodeJson(consumer, ['--input-type=module', '-e', `
      globalThis.process = undefined;
      const m = await import('./web/out.mjs');
      console.log(JSON.stringify({ ...Object.fromEntries(Object.entries(m).map(([k, v]) => [k, typeof v])), backends: m.BROWSER_BACKENDS }));`]);
    expect(types).toEqual({
      DepthAnything: 'function', DepthAnythingWorker: 'function', initBrowserBackend: 'function', drawDepth: 'function', BrowserDepthAnything: 'function', CoreDepthAnything: 'function',
      BROWSER_BACKENDS: 'object', backends: expect.arrayContaining(['webgl', 'webgpu', 'wasm', 'cpu']),
    });
  });

  test('CLI: --help; bench --browser without puppeteer-core says what to install', () => {
    const bin = path.join(consumer, 'node_modules', '.bin', 'depth-anything');
    const help = run(bin, ['--help'], consumer);
    for (const cmd of ['predict', 'parity', 'bench', 'serve']) expect(help).toMatch(new RegExp(`^\\s+${cmd}\\b`, 'm'));
    let stderr = '';
    let status: number | null = 0;
    try {
      execFileSync(bin, ['bench', '--browser', '--runs', '1'], { cwd: consumer, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      ({ stderr, status } = e as { stderr: string; status: number });
    }
    expect(status).toBe(1);
    const last = stderr.trim().split('\n').pop() ?? '';
    expect(last).toMatch(/^depth-anything: .*bench --browser.*puppeteer-core.*npm install puppeteer-core.*chromium/);
  });

  test('CLI: serve serves the demo page, its bundle, the worker and the wasm binaries', async () => {
    const bin = path.join(consumer, 'node_modules', '.bin', 'depth-anything');
    const child = spawn(bin, ['serve', '--port', '0'], { cwd: consumer, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        let err = '';
        const timer = setTimeout(() => reject(new Error(`serve printed no URL in 30 s: ${out}${err}`)), 30_000);
        child.stderr.on('data', (d: Buffer) => { err += d; });
        child.stdout.on('data', (d: Buffer) => {
          out += d;
          const m = /demo: (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
          if (m) { clearTimeout(timer); resolve(m[1]); }
        });
        child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`serve exited ${code}: ${out}${err}`)); });
      });
      const page = await fetch(`${url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('src="/dist/web/app.js"');
      for (const p of ['/dist/web/app.js', '/dist/browser/depth-anything.worker.mjs', '/dist/wasm/tfjs-backend-wasm-simd.wasm']) {
        const r = await fetch(`${url}${p}`);
        expect([p, r.status]).toEqual([p, 200]);
        expect((await r.arrayBuffer()).byteLength).toBeGreaterThan(100_000);
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    }
  });
});
