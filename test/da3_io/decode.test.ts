import sharp from 'sharp';
import { decodeImage } from '../../src/node/image';

describe('decoding as PIL does for DA3', () => {
  test('autoOrient false keeps the stored pixel order (PIL ignores EXIF orientation); the default rotates (cv2.imread)', async () => {
    const w = 6, h = 4;
    const raw = Buffer.alloc(w * h * 3, 0);
    raw[0] = 255; // top-left pixel red
    const jpeg = await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 100 }).withMetadata({ orientation: 6 }).toBuffer();
    const pil = await decodeImage(new Uint8Array(jpeg), 'rotated.jpg', { autoOrient: false });
    const cv = await decodeImage(new Uint8Array(jpeg), 'rotated.jpg');
    expect([pil.width, pil.height]).toEqual([6, 4]);
    expect([cv.width, cv.height]).toEqual([4, 6]);
  });
});
