/**
 * 8-bit weights load in the page as in Node: the browser bundle in headless Chromium reads a
 * `convert --dtype q8` file by URL, says it is 8-bit, and predicts the depth Node predicts from the
 * same file (wasm in both; the same reader and the same kernels, so within float rounding).
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildBrowser } from './build';
import { convertWeights } from '../../src/cli/convert';
import { DepthAnything } from '../../src/node/depth_anything';
import type { Q8ScenarioResult } from './q8_scenario';

const ROOT = path.resolve(__dirname, '..', '..');
const FIX = path.resolve(ROOT, '../shared/fixtures');

test('a q8 file loads and predicts in Chromium as in Node', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'q8-page-'));
  const dist = buildBrowser();
  try {
    const q8 = path.join(dir, 'tiny-q8.safetensors');
    await convertWeights(path.join(FIX, 'parity/v2-tiny/weights.safetensors'), q8, { dtype: 'q8' });
    const r = await new Promise<Q8ScenarioResult>((resolve, reject) => {
      execFile(process.execPath, [require.resolve('tsx/cli'), 'test/browser/q8_scenario.ts', '--dist', dist, '--weights', q8], { cwd: ROOT, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
        if (err) return reject(new Error(`q8 scenario failed: ${stderr.slice(-3000) || err.message}`));
        resolve(JSON.parse(stdout.trim().split('\n').pop()!) as Q8ScenarioResult);
      });
    });
    expect(r.pageErrors).toEqual([]);
    expect(r.precision).toBe('q8');
    const model = await DepthAnything.load(q8, { backend: 'wasm' });
    const ref = await model.predict(path.join(FIX, 'preprocess/tiny/image.png'), { inputSize: 70 });
    model.dispose();
    expect([r.width, r.height]).toEqual([ref.width, ref.height]);
    let num = 0;
    let den = 0;
    for (let i = 0; i < ref.data.length; i++) { num += (r.depth[i] - ref.data[i]) ** 2; den += ref.data[i] ** 2; }
    expect(Math.sqrt(num / den)).toBeLessThanOrEqual(1e-5);
  } finally {
    fs.rmSync(dist, { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 5 * 60_000);
