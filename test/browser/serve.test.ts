/** `depth-anything serve`: the demo page, its bundle and a --page-weights file on 127.0.0.1. */
import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const WEIGHTS = path.resolve(ROOT, '../shared/fixtures/parity/v2-tiny/weights.safetensors');

describe('depth-anything serve', () => {
  let child: ChildProcess;
  let url: string;
  let query: string;
  beforeAll(async () => {
    // The page loads dist/web/app.js (npm run build, which npm ci runs); build it if this checkout has not.
    if (!fs.existsSync(path.join(ROOT, 'dist/web/app.js'))) execFileSync(process.execPath, ['tools/build-browser.mjs'], { cwd: ROOT });
    child = spawn(process.execPath, [require.resolve('tsx/cli'), 'src/cli/run.ts', 'serve', '--port', '0', '--page-weights', WEIGHTS], { cwd: ROOT });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      let err = '';
      child.stdout!.on('data', (d) => { out += d; if (out.includes('\n')) resolve(out); });
      child.stderr!.on('data', (d) => { err += d; });
      child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
    });
    const m = /demo: (http:\/\/127\.0\.0\.1:\d+)\/(\S*)/.exec(line);
    if (!m) throw new Error(`unexpected output: ${line}`);
    [url, query] = [m[1], m[2]];
  });
  afterAll(() => { if (child?.exitCode === null) child.kill('SIGKILL'); });

  it('serves the page, its bundle, the wasm binaries and the --page-weights file', async () => {
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script type="module" src="/dist/web/app.js">');
    expect((await fetch(`${url}/dist/web/app.js`)).headers.get('content-type')).toContain('javascript');
    expect((await fetch(`${url}/dist/wasm/tfjs-backend-wasm-simd.wasm`)).headers.get('content-type')).toBe('application/wasm');
    expect(query).toBe('?model=%2Fmodels%2Fweights.safetensors');
    const model = await fetch(url + decodeURIComponent(query.slice('?model='.length)));
    expect(Buffer.from(await model.arrayBuffer()).equals(fs.readFileSync(WEIGHTS))).toBe(true);
  });

  it('sends validators (ETag, Last-Modified) and answers a conditional request with 304', async () => {
    const file = url + decodeURIComponent(query.slice('?model='.length));
    const head = await fetch(file, { method: 'HEAD' });
    const etag = head.headers.get('etag');
    expect(etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$/);
    expect(head.headers.get('last-modified')).toBe(fs.statSync(WEIGHTS).mtime.toUTCString());
    expect(head.headers.get('content-length')).toBe(String(fs.statSync(WEIGHTS).size));
    expect((await fetch(file, { headers: { 'If-None-Match': etag! } })).status).toBe(304);
    expect((await fetch(file, { headers: { 'If-None-Match': '"other"' } })).status).toBe(200);
  });

  it('refuses a --page-weights file that does not exist, in one line', () => {
    let msg = '';
    try {
      execFileSync(process.execPath, [require.resolve('tsx/cli'), 'src/cli/run.ts', 'serve', '--page-weights', 'nope.safetensors'], { cwd: ROOT, stdio: 'pipe' });
    } catch (e) {
      msg = String((e as { stderr: Buffer }).stderr).trim();
    }
    expect(msg).toBe('depth-anything: --page-weights nope.safetensors: file not found');
  });

  it('stops on SIGTERM (exit code 0, port closed)', async () => {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await expect(fetch(`${url}/`)).rejects.toThrow();
  });

  it('stops when the npm process above it ends without passing a signal on (npx, killed by its PID)', async () => {
    // A parent that cannot forward anything (SIGKILL), with npm's variable set as npx sets it.
    const parent = spawn(process.execPath, ['-e', `
      const c = require('child_process').spawn(process.execPath, [${JSON.stringify(require.resolve('tsx/cli'))}, 'src/cli/run.ts', 'serve', '--port', '0'],
        { cwd: ${JSON.stringify(ROOT)}, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, npm_command: 'exec' } });
      c.stdout.on('data', (d) => process.stdout.write(d));
      setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      parent.stdout!.on('data', (d) => { out += d; if (out.includes('\n')) resolve(out); });
      parent.on('exit', (code) => reject(new Error(`the parent exited with ${code}`)));
    });
    const served = /demo: (http:\/\/127\.0\.0\.1:\d+)\//.exec(line)![1];
    expect((await fetch(`${served}/`)).status).toBe(200);
    parent.kill('SIGKILL');
    // The server notices within about a second (it polls the processes above it) and closes.
    const t0 = Date.now();
    let closed = false;
    while (!closed && Date.now() - t0 < 15_000) {
      await new Promise((r) => setTimeout(r, 250));
      closed = await fetch(`${served}/`).then(() => false, () => true);
    }
    expect(closed).toBe(true);
  });
});
