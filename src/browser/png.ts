/**
 * A minimal PNG encoder for the browser (16-bit grey and 8-bit RGB), because a canvas can only
 * export 8-bit RGBA. Compression is the browser's own zlib (`CompressionStream('deflate')` is
 * RFC 1950, what PNG's IDAT holds); CRC-32 is the table version (src/io/zip_common.ts; zip and PNG use the same polynomial).
 */
import { crc32Table } from '../io/zip_common';

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32Table(out.subarray(4, 8 + data.length)));
  return out;
}

async function deflate(raw: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([raw as BlobPart]).stream().pipeThrough(new CompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * `grey16`: one Uint16Array sample per pixel (written big-endian, as PNG wants);
 * `rgb8`: interleaved RGB bytes. Filter type 0 on every row.
 */
export async function encodePng(pixels: Uint16Array | Uint8Array, width: number, height: number, kind: 'grey16' | 'rgb8'): Promise<Uint8Array> {
  const rowBytes = kind === 'grey16' ? width * 2 : width * 3;
  if (pixels.length !== (kind === 'grey16' ? width * height : width * height * 3)) {
    throw new Error(`encodePng: ${pixels.length} samples for a ${width}x${height} ${kind} image`);
  }
  const raw = new Uint8Array((rowBytes + 1) * height);
  for (let y = 0; y < height; y++) {
    const o = y * (rowBytes + 1) + 1; // the leading 0 is filter type "None"
    if (kind === 'grey16') {
      for (let x = 0; x < width; x++) {
        const v = pixels[y * width + x];
        raw[o + x * 2] = v >>> 8;
        raw[o + x * 2 + 1] = v & 0xff;
      }
    } else {
      raw.set((pixels as Uint8Array).subarray(y * rowBytes, (y + 1) * rowBytes), o);
    }
  }
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr[8] = kind === 'grey16' ? 16 : 8; // bit depth
  ihdr[9] = kind === 'grey16' ? 0 : 2; // colour type: grey / truecolour
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', await deflate(raw)),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) { out.set(p, pos); pos += p.length; }
  return out;
}
