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
  afterAll(() => { child?.kill('SIGTERM'); });

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

  it('refuses a --page-weights file that does not exist, in one line', () => {
    let msg = '';
    try {
      execFileSync(process.execPath, [require.resolve('tsx/cli'), 'src/cli/run.ts', 'serve', '--page-weights', 'nope.safetensors'], { cwd: ROOT, stdio: 'pipe' });
    } catch (e) {
      msg = String((e as { stderr: Buffer }).stderr).trim();
    }
    expect(msg).toBe('depth-anything: --page-weights nope.safetensors: file not found');
  });
});
