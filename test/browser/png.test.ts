/** The browser's PNG encoder (16-bit grey, 8-bit RGB), decoded back by sharp (libpng). */
import sharp from 'sharp';
import { encodePng } from '../../src/browser/png';

describe('encodePng', () => {
  it('writes 16-bit greyscale that libpng reads back sample for sample', async () => {
    const w = 37, h = 5;
    const px = Uint16Array.from({ length: w * h }, (_, i) => (i * 2654435761) % 65536);
    const png = await encodePng(px, w, h, 'grey16');
    const { data, info } = await sharp(png).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([w, h, 1]);
    expect(Array.from(new Uint16Array(data.buffer, data.byteOffset, w * h))).toEqual(Array.from(px));
  });

  it('writes 8-bit RGB', async () => {
    const w = 3, h = 2;
    const px = Uint8Array.from({ length: w * h * 3 }, (_, i) => i * 13);
    const { data, info } = await sharp(await encodePng(px, w, h, 'rgb8')).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([w, h, 3]);
    expect(Array.from(data)).toEqual(Array.from(px));
  });

  it('refuses pixels that do not match the size', async () => {
    await expect(encodePng(new Uint16Array(5), 2, 2, 'grey16')).rejects.toThrow(/5 samples for a 2x2 grey16 image/);
  });
});
