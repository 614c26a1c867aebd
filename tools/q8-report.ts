/**
 * Maintainer script: what `convert --dtype q8` costs and saves. File sizes of V2-S/B/L (seeded
 * random weights in the release's shapes: the size depends only on the shapes) in f32, f16 and
 * q8, and the depth's relL2 against f32 for q8 and f16 on the full-size V2-S fixture's photo and
 * on every depth parity case's input (wasm). Random weights: trained ones are usually more robust.
 *
 *   npx tsx tools/q8-report.ts
 */
import * as os from 'os';
import * as path from 'path';
import { promises as fs } from 'fs';
import { VARIANTS } from '../src/config/depth';
import { randomStateDict } from '../src/verify/bench';
import { writeSafetensorsFile, OutDtype } from '../src/node/safetensors_file';
import { convertWeights } from '../src/cli/convert';
import { DepthAnything } from '../src/node/depth_anything';

const FIX = path.resolve(__dirname, '../../shared/fixtures');
const DTYPES: OutDtype[] = ['f32', 'f16', 'q8'];

function relL2(a: Float32Array, b: Float32Array): number {
  let n = 0, d = 0;
  for (let i = 0; i < a.length; i++) { n += (a[i] - b[i]) ** 2; d += b[i] ** 2; }
  return Math.sqrt(n / d);
}

async function main(): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'q8-report-'));
  try {
    console.log('| model | f32 | f16 | q8 | q8 / f32 |\n|---|---|---|---|---|');
    for (const v of ['v2-vits', 'v2-vitb', 'v2-vitl'] as const) {
      const sd = randomStateDict(VARIANTS[v], 7);
      const sizes: number[] = [];
      for (const dt of DTYPES) {
        const f = path.join(dir, `${v}-${dt}.safetensors`);
        await writeSafetensorsFile(f, sd, {}, dt);
        sizes.push((await fs.stat(f)).size);
        await fs.rm(f);
      }
      const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
      console.log(`| ${v} | ${mb(sizes[0])} | ${mb(sizes[1])} | ${mb(sizes[2])} | ${(sizes[2] / sizes[0]).toFixed(3)} |`);
    }
    const cases: Array<{ name: string; weights: string; image: string; inputSize: number }> = [
      { name: 'v2-vits-full (demo01.jpg)', weights: path.join(FIX, 'parity/v2-vits-full/weights.safetensors'), image: path.join(FIX, 'parity/v2-vits-full/demo01.jpg'), inputSize: 518 },
      { name: 'v2-vits-full (portrait)', weights: path.join(FIX, 'parity/v2-vits-full/weights.safetensors'), image: path.join(FIX, 'preprocess/portrait/image.png'), inputSize: 518 },
    ];
    for (const c of ['v1-tiny', 'v2-tiny', 'v2-tiny-giantlike', 'v2-tiny-metric', 'v1-metric-indoor-tiny', 'v1-metric-normed-tiny']) {
      const cfg = JSON.parse(await fs.readFile(path.join(FIX, 'parity', c, 'config.json'), 'utf8')) as { image?: string; input_size?: number };
      const image = cfg.image ? path.join(FIX, 'parity', c, cfg.image) : path.join(FIX, 'preprocess/portrait/image.png');
      cases.push({ name: c, weights: path.join(FIX, 'parity', c, 'weights.safetensors'), image, inputSize: cfg.input_size ?? 518 });
    }
    console.log('\n| case | q8 relL2 vs f32 | f16 relL2 vs f32 |\n|---|---|---|');
    for (const c of cases) {
      const depth: Float32Array[] = [];
      for (const dt of DTYPES) {
        let w = c.weights;
        if (dt !== 'f32') { w = path.join(dir, `case-${dt}.safetensors`); await convertWeights(c.weights, w, { dtype: dt }); }
        const m = await DepthAnything.load(w, { backend: 'wasm' });
        try { depth.push((await m.predict(c.image, { inputSize: c.inputSize })).data); } finally { m.dispose(); }
      }
      console.log(`| ${c.name} | ${relL2(depth[2], depth[0]).toExponential(2)} | ${relL2(depth[1], depth[0]).toExponential(2)} |`);
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
