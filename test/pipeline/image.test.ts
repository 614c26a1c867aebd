import { promises as fs } from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { decodeImage, loadImage, ImageError } from '../../src/node/image';
import { parseSafetensors } from '../../src/io/safetensors';
import { PREPROCESS_CASES } from '../fixture_cases';

const FIXTURES = path.resolve(__dirname, '../../../shared/fixtures');
const CASES = [...PREPROCESS_CASES];

const raw = (data: Uint8Array | Uint16Array, width: number, height: number, channels: 1 | 2 | 3 | 4) =>
  sharp(data, { raw: { width, height, channels } });

describe('decodeImage matches cv2.imread + BGR2RGB', () => {
  test.each(CASES)('preprocess/%s: bit-identical to the fixture rgb', async (name) => {
    const dir = path.join(FIXTURES, 'preprocess', name);
    const file = (await fs.readdir(dir)).find((f) => f.startsWith('image.'))!;
    const rgb = parseSafetensors(await fs.readFile(path.join(dir, 'expected.safetensors'))).tensors.get('rgb')!;
    const img = await decodeImage(path.join(dir, file));
    expect([img.height, img.width, 3]).toEqual(rgb.shape);
    expect(Buffer.compare(Buffer.from(img.data), Buffer.from(rgb.bytes))).toBe(0);
  });

  test('grey is replicated to three channels', async () => {
    const png = await raw(Uint8Array.from([0, 100, 200, 255]), 2, 2, 1).png().toBuffer();
    const img = await decodeImage(png);
    expect(Array.from(img.data)).toEqual([0, 0, 0, 100, 100, 100, 200, 200, 200, 255, 255, 255]);
  });

  test('16-bit is reduced to its high byte (libpng strip_16, as OpenCV)', async () => {
    const png = await raw(Uint16Array.from([0x01ff, 0x8000, 0xffff, 0x00ff]), 4, 1, 1).toColourspace('grey16').png().toBuffer();
    expect((await sharp(png).metadata()).depth).toBe('ushort');
    const img = await decodeImage(png);
    expect(Array.from(img.data.filter((_, i) => i % 3 === 0))).toEqual([0x01, 0x80, 0xff, 0x00]);
  });

  test('alpha is dropped, not blended', async () => {
    const png = await raw(Uint8Array.from([10, 20, 30, 0, 40, 50, 60, 128]), 2, 1, 4).png().toBuffer();
    expect(Array.from((await decodeImage(png)).data)).toEqual([10, 20, 30, 40, 50, 60]);
  });

  test('EXIF orientation is applied', async () => {
    const px = new Uint8Array(4 * 3 * 3);
    px.set([255, 255, 255], 0); // white top-left of the stored 4x3 image
    const png = await raw(px, 4, 3, 3).withMetadata({ orientation: 6 }).png().toBuffer();
    const img = await decodeImage(png);
    // Orientation 6 = rotate 90 degrees clockwise for display: 3x4, white at the top right.
    expect([img.width, img.height]).toEqual([3, 4]);
    expect(Array.from(img.data.subarray(6, 9))).toEqual([255, 255, 255]);
    expect(img.data.reduce((a, b) => a + b, 0)).toBe(3 * 255);
  });

  test('GIF: the first frame', async () => {
    const frames = new Uint8Array(2 * 3 * 2 * 4);
    for (let i = 0; i < 6; i++) { frames.set([255, 0, 0, 255], i * 4); frames.set([0, 0, 255, 255], (6 + i) * 4); }
    const gif = await sharp(frames, { raw: { width: 3, height: 4, channels: 4, pageHeight: 2 } } as Parameters<typeof sharp>[1]).gif().toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(2);
    const img = await decodeImage(gif);
    expect([img.width, img.height]).toEqual([3, 2]);
    expect(Array.from(img.data.subarray(0, 3))).toEqual([255, 0, 0]);
  });

  test.each(['webp', 'tiff'] as const)('%s (lossless) decodes to its pixels', async (fmt) => {
    const px = Uint8Array.from({ length: 5 * 4 * 3 }, (_, i) => (i * 37) % 256);
    const s = raw(px, 5, 4, 3);
    const buf = await (fmt === 'webp' ? s.webp({ lossless: true }) : s.tiff({ compression: 'lzw' })).toBuffer();
    const img = await decodeImage(buf);
    expect(Buffer.compare(Buffer.from(img.data), Buffer.from(px))).toBe(0);
  });

  test('a 1x1 image decodes', async () => {
    const img = await decodeImage(await raw(Uint8Array.from([1, 2, 3]), 1, 1, 3).png().toBuffer());
    expect(img).toEqual({ data: Uint8Array.from([1, 2, 3]), width: 1, height: 1 });
  });
});

describe('decode errors name the file and the problem', () => {
  test('missing file', async () => {
    await expect(decodeImage('/nonexistent/photo.jpg')).rejects.toThrow('/nonexistent/photo.jpg: file not found');
  });
  test('not an image', async () => {
    await expect(decodeImage(Buffer.from('hello, not an image'), 'notes.txt')).rejects.toThrow(/^notes\.txt: not a supported image/);
  });
  test('truncated JPEG', async () => {
    const jpg = await fs.readFile(path.join(FIXTURES, 'preprocess/small-upscale/image.jpg'));
    const err = await decodeImage(jpg.subarray(0, 5000), 'cut.jpg').catch((e) => e);
    expect(err).toBeInstanceOf(ImageError);
    expect(err.message).toMatch(/^cut\.jpg: cannot decode image/);
  });
  test('RGB pixels of the wrong length', async () => {
    await expect(loadImage({ data: new Uint8Array(10), width: 2, height: 2 })).rejects.toThrow('RGB data has 10 bytes; 2x2x3 = 12 expected');
  });
});
