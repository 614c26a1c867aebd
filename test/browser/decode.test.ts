/**
 * Issue 11 item 4: Chromium's decoders (the browser entry's image path) give the same pixels as
 * OpenCV on the preprocess fixtures (OpenCV's `rgb`) and demo01.jpg (sharp, equal to OpenCV), and
 * turn a JPEG with EXIF orientation 6 as Node's decoder does.
 * The browser runs in a child process (tools/decode-compare.ts; puppeteer-core is ESM-only).
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { buildBrowser } from './build';
import type { DecodeDiff } from '../../tools/decode-compare';

const ROOT = path.resolve(__dirname, '..', '..');

describe('decoding in Chromium', () => {
  it('matches OpenCV sample for sample on every fixture image (JPEG and PNG), and applies EXIF orientation as Node does', async () => {
    const dist = buildBrowser();
    try {
      const rows = await new Promise<DecodeDiff[]>((resolve, reject) => {
        execFile(process.execPath, [require.resolve('tsx/cli'), 'tools/decode-compare.ts', '--json', '--dist', dist], { cwd: ROOT, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
          if (err) return reject(new Error(stderr.slice(-3000) || err.message));
          resolve(JSON.parse(stdout.trim().split('\n').pop()!) as DecodeDiff[]);
        });
      });
      expect(rows.map((r) => r.image).sort()).toEqual([
        'exif-orientation-6.jpg', 'parity/v2-vits-full/demo01.jpg', 'preprocess/large-input-size/image.jpg', 'preprocess/portrait/image.png',
        'preprocess/small-upscale/image.jpg', 'preprocess/tiny/image.png',
      ]);
      for (const r of rows) expect({ image: r.image, differing: r.differing }).toEqual({ image: r.image, differing: 0 });
    } finally {
      fs.rmSync(dist, { recursive: true, force: true });
    }
  });
});
