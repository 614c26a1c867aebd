/**
 * The demo page in a real browser (headless Chromium through puppeteer-core): it is served as
 * `depth-anything serve` serves it, the fixture model and photo go in through the page's own file
 * inputs, and the depth the page computed is compared with the official depth at the photo's size.
 * Software rendering (SwiftShader) in CI: WebGL on the full-size model takes minutes, so the webgl
 * pass runs when BROWSER_WEBGL=1 (see the README for the measured times).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildBrowser } from './build';
import { Demo, errorText, openDemo, readResult, uploadImage, uploadModel, waitState } from './demo_driver';
import { entryToFloat32, parseSafetensors } from '../../src/io/safetensors';
import { caseDir } from '../helpers';

const CASE = caseDir('v2-vits-full');
const WEIGHTS = path.join(CASE, 'weights.safetensors');
const PHOTO = path.join(CASE, 'demo01.jpg');
const TOL = 2e-5; // fixtures README: end to end, photo file -> depth at the photo's size
const WEBGL = process.env.BROWSER_WEBGL === '1';

function relL2(a: Float32Array, ref: Float32Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < ref.length; i++) { num += (a[i] - ref[i]) ** 2; den += ref[i] ** 2; }
  return Math.sqrt(num / den);
}

describe('demo page in headless Chromium', () => {
  let demo: Demo;
  let ref: { data: Float32Array; shape: number[] };
  let tmp: string;
  let tensorsWithModel = -1;
  let dist: string;

  beforeAll(async () => {
    dist = buildBrowser();
    const e = [...parseSafetensors(fs.readFileSync(path.join(CASE, 'depth_original_size.safetensors'))).tensors.values()][0];
    ref = { data: entryToFloat32(e), shape: e.shape };
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-test-'));
    demo = await openDemo('?backend=wasm', { dist });
  });
  afterAll(async () => {
    await demo?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.rmSync(dist, { recursive: true, force: true });
  });

  it('says in one sentence that a photo is not a model, and keeps working', async () => {
    expect(await uploadModel(demo.page, PHOTO)).toBe('error');
    expect(await errorText(demo.page)).toBe('demo01.jpg: not a model file: neither a safetensors file nor a PyTorch .pth checkpoint');
  });

  it('loads the fixture weights and photo through its controls; depth within relL2 2e-5 on wasm', async () => {
    const t0 = Date.now();
    expect(await uploadModel(demo.page, WEIGHTS)).toBe('ready');
    expect(await errorText(demo.page)).toBe('');
    tensorsWithModel = (await readResult(demo.page)).numTensors;
    const t1 = Date.now();
    expect(await uploadImage(demo.page, PHOTO)).toBe('done');
    const r = await readResult(demo.page);
    expect([r.height, r.width]).toEqual(ref.shape);
    const rel = relL2(r.depth!, ref.data);
    process.stderr.write(`browser demo, wasm: relL2 ${rel.toExponential(2)}, ${r.ms?.toFixed(0)} ms per image in the page (load ${((t1 - t0) / 1000).toFixed(1)} s, run ${((Date.now() - t1) / 1000).toFixed(1)} s wall), ${r.backend}\n`);
    expect(rel).toBeLessThanOrEqual(TOL);
    // The run leaves only the model's own tensors.
    expect(r.numTensors).toBe(tensorsWithModel);
    const shot = process.env.DEMO_SCREENSHOT ?? path.join(tmp, 'demo.png');
    await demo.page.screenshot({ path: shot as `${string}.png` });
    expect(fs.statSync(shot).size).toBeGreaterThan(10_000);
  });

  it('says in one sentence that an image cannot be decoded, leaks no tensors, and runs again', async () => {
    const broken = path.join(tmp, 'broken.jpg');
    fs.writeFileSync(broken, Buffer.concat([fs.readFileSync(PHOTO).subarray(0, 2), Buffer.from('not really a jpeg')]));
    expect(await uploadImage(demo.page, broken)).toBe('error');
    expect(await errorText(demo.page)).toMatch(/^broken\.jpg: cannot decode this image \(.*\)$/);
    expect((await readResult(demo.page)).numTensors).toBe(tensorsWithModel);
    // The page still works: the colour map control redraws the last depth.
    await demo.page.select('#colormap', 'inferno');
    expect(await demo.page.evaluate(() => document.querySelector('#dl-npy')?.hasAttribute('disabled'))).toBe(false);
  });

  (WEBGL ? it : it.skip)('recomputes on webgl when the backend selector changes; depth within relL2 2e-5', async () => {
    const t0 = Date.now();
    await demo.page.select('#backend', 'webgl');
    // The page rebuilds the model on the new backend and reruns the last image.
    await waitState(demo.page, ['loading', 'running'], 60_000);
    expect(await waitState(demo.page, ['done', 'error'], 40 * 60_000)).toBe('done');
    const r = await readResult(demo.page);
    const rel = relL2(r.depth!, ref.data);
    process.stderr.write(`browser demo, webgl: relL2 ${rel.toExponential(2)}, ${r.ms?.toFixed(0)} ms per image in the page (${((Date.now() - t0) / 1000).toFixed(1)} s wall with the model rebuild), ${r.backend}\n`);
    expect(r.backend).toMatch(/^webgl/);
    expect(rel).toBeLessThanOrEqual(TOL);
  });
});
