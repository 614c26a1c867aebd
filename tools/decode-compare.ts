/**
 * Issue 11 item 4: how far Chromium's JPEG/PNG decoding (the browser entry's decodeBlob:
 * createImageBitmap + canvas) is from OpenCV's (the fixtures' `rgb`, which sharp matches).
 *   npx tsx tools/decode-compare.ts [--json] [--dist DIR]   (after npm run build)
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { launchChromium } from '../src/verify/chromium';
import { serveStatic } from '../src/node/static_server';
import { parseSafetensors } from '../src/io/safetensors';

const ROOT = path.resolve(__dirname, '..');
const FIX = path.resolve(ROOT, '../shared/fixtures');

export interface DecodeDiff { image: string; width: number; height: number; differing: number; maxAbs: number; meanAbs: number }

export async function compareDecoding(dist = path.join(ROOT, 'dist')): Promise<DecodeDiff[]> {
  const cases: Array<{ file: string; rgb: () => Promise<Uint8Array> }> = [];
  for (const c of fs.readdirSync(path.join(FIX, 'preprocess'))) {
    const dir = path.join(FIX, 'preprocess', c);
    const img = fs.readdirSync(dir).find((f) => /^image\./.test(f))!;
    cases.push({
      file: path.join(dir, img),
      rgb: async () => parseSafetensors(fs.readFileSync(path.join(dir, 'expected.safetensors'))).tensors.get('rgb')!.bytes,
    });
  }
  // demo01.jpg has no OpenCV rgb in the fixtures; sharp decodes it bit-identically to OpenCV (fixtures README).
  const demo = path.join(FIX, 'parity/v2-vits-full/demo01.jpg');
  cases.push({ file: demo, rgb: async () => new Uint8Array(await sharp(demo, { autoOrient: true, ignoreIcc: true }).removeAlpha().raw().toBuffer()) });

  // EXIF orientation: a JPEG whose pixels are stored sideways (orientation 6, "rotate 90 CW");
  // sharp's autoOrient (what Node's decodeImage does) is the reference.
  const gen = fs.mkdtempSync(path.join(os.tmpdir(), 'decode-compare-'));
  const rotated = path.join(gen, 'exif-orientation-6.jpg');
  fs.writeFileSync(rotated, await sharp(path.join(FIX, 'preprocess/small-upscale/image.jpg')).jpeg({ quality: 90 }).withMetadata({ orientation: 6 }).toBuffer());
  cases.push({ file: rotated, rgb: async () => new Uint8Array(await sharp(rotated, { autoOrient: true, ignoreIcc: true }).removeAlpha().raw().toBuffer()) });

  const server = await serveStatic({ '/dist/': dist, '/test/': path.join(ROOT, 'test/browser'), '/fixtures/': FIX, '/gen/': gen });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`${server.url}/test/lib_page.html`);
    await page.waitForFunction(() => document.body.dataset.state === 'ready');
    const out: DecodeDiff[] = [];
    for (const c of cases) {
      const url = c.file.startsWith(gen) ? `/gen/${path.basename(c.file)}` : `/fixtures/${path.relative(FIX, c.file)}`;
      const got = await page.evaluate(async (u: string) => {
        const lib = (window as unknown as { lib: { loadBrowserImage(x: string): Promise<{ data: Uint8Array; width: number; height: number }> } }).lib;
        const img = await lib.loadBrowserImage(u);
        let s = '';
        for (let i = 0; i < img.data.length; i += 0x8000) s += String.fromCharCode(...img.data.subarray(i, i + 0x8000));
        return { b64: btoa(s), width: img.width, height: img.height };
      }, url);
      const mine = Buffer.from(got.b64, 'base64');
      const ref = await c.rgb();
      if (mine.length !== ref.length) throw new Error(`${url}: ${got.width}x${got.height} decoded, ${ref.length / 3} pixels expected`);
      let differing = 0, maxAbs = 0, sum = 0;
      for (let i = 0; i < ref.length; i++) {
        const d = Math.abs(mine[i] - ref[i]);
        if (d) differing++;
        if (d > maxAbs) maxAbs = d;
        sum += d;
      }
      out.push({ image: c.file.startsWith(gen) ? path.basename(c.file) : path.relative(FIX, c.file), width: got.width, height: got.height, differing, maxAbs, meanAbs: sum / ref.length });
    }
    return out;
  } finally {
    await browser.close();
    await server.close();
    fs.rmSync(gen, { recursive: true, force: true });
  }
}

if (require.main === module) {
  compareDecoding(process.argv.includes('--dist') ? process.argv[process.argv.indexOf('--dist') + 1] : undefined).then((rows) => {
    if (process.argv.includes('--json')) return void console.log(JSON.stringify(rows));
    console.log('| image | size | samples differing | max abs | mean abs |\n|---|---|---:|---:|---:|');
    for (const r of rows) console.log(`| ${r.image} | ${r.width}x${r.height} | ${r.differing} | ${r.maxAbs} | ${r.meanAbs.toExponential(2)} |`);
  }, (e) => { console.error(e); process.exit(1); });
}
