/**
 * NumPy `.npy` format version 1.0 for float32 arrays: magic, a Python-dict header padded to a
 * multiple of 64 bytes, then the raw little-endian data (C order).
 * https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
 *
 * Hand-written: the format is a dozen lines, and the npm readers (npyjs) do not write.
 */
import { LITTLE_ENDIAN } from './half';

export class NpyError extends Error {
  constructor(readonly source: string, detail: string) {
    super(`${source}: not a float32 .npy file: ${detail}`);
    this.name = 'NpyError';
  }
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/**
 * The file's first bytes for a float32 C-order array of `shape`: magic, version 1.0, header length,
 * and the header padded with spaces to a multiple of 64 bytes and to at least `minBytes` (so a
 * streaming writer can rewrite it in place once the final shape is known).
 */
export function npyHeader(shape: readonly number[], minBytes = 0): Uint8Array {
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  // magic(6) + version(2) + header length(2) + header + '\n', padded with spaces to 64 bytes.
  const total = Math.max(10 + header.length + 1, minBytes);
  header += ' '.repeat(Math.ceil(total / 64) * 64 - (10 + header.length + 1)) + '\n';
  if (header.length > 0xffff) throw new Error(`npyHeader: header of ${header.length} bytes is too long for version 1.0`);
  const out = new Uint8Array(10 + header.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  return out;
}

/** Encodes a float32 array of the given shape (`np.load` gives it back as `float32`). */
export function encodeNpy(data: Float32Array, shape: readonly number[]): Uint8Array {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== data.length) throw new Error(`encodeNpy: ${data.length} values for shape [${shape.join(', ')}]`);
  const head = npyHeader(shape);
  const out = new Uint8Array(head.length + n * 4);
  out.set(head, 0);
  const off = head.length;
  const dv = new DataView(out.buffer);
  if (LITTLE_ENDIAN) out.set(new Uint8Array(data.buffer, data.byteOffset, n * 4), off);
  else for (let i = 0; i < n; i++) dv.setFloat32(off + i * 4, data[i], true);
  return out;
}

/** Reads a little-endian float32 C-order `.npy` (versions 1-3), as `encodeNpy` writes. */
export function decodeNpy(bytes: Uint8Array, source = '<buffer>'): { data: Float32Array; shape: number[] } {
  const fail = (d: string): never => { throw new NpyError(source, d); };
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) fail('missing the \\x93NUMPY magic');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const lenBytes = major === 1 ? 2 : 4;
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const start = 8 + lenBytes;
  if (start + hlen > bytes.length) fail(`header of ${hlen} bytes runs past the end of the file`);
  const header = new TextDecoder().decode(bytes.subarray(start, start + hlen));
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1];
  if (descr !== '<f4') fail(`dtype ${descr ?? '?'}; '<f4' expected`);
  if (!/'fortran_order':\s*False/.test(header)) fail('Fortran order is not supported');
  const shapeStr = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (shapeStr === undefined) fail('no shape in the header');
  const shape = (shapeStr as string).split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const off = start + hlen;
  if (bytes.length - off !== n * 4) fail(`${bytes.length - off} data bytes for shape (${shape.join(', ')}); ${n * 4} expected`);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = dv.getFloat32(off + i * 4, true);
  return { data, shape };
}
