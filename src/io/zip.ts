/**
 * Random-access zip reading over a file descriptor (yauzl: central directory, zip64, stored and
 * deflated entries, size validation). Only the entries asked for are read, one at a time, each
 * into its own buffer, so a 1.3 GB checkpoint is never held twice.
 *
 * Every entry read is verified (see `verifyLocalRecord`, `verifyDataDescriptor`, `verifyCrc`):
 * its local header agrees with the central directory (name, method, CRC-32, sizes), its data
 * descriptor too when it has one, and the CRC-32 of its bytes, computed while they are read, is
 * the one recorded. Neither yauzl nor PyTorch's loader checks the CRC.
 */
import { promises as fs } from 'fs';
import * as zlib from 'zlib';
import * as yauzl from 'yauzl';

/**
 * zlib.crc32 (Node >= 20.15, SIMD); on older Node 20 a table-driven fallback, as the package
 * still allows Node 20.9.
 */
export const crc32: (data: Uint8Array, value?: number) => number =
  typeof zlib.crc32 === 'function' ? zlib.crc32 : crc32Table;

let crcTable: Uint32Array | undefined;
export function crc32Table(data: Uint8Array, value = 0): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = ~value;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

const hex = (v: number) => `0x${v.toString(16).padStart(8, '0')}`;
/** Stored entries are read in chunks of this size, each CRC'd while the next is being read. */
const READ_CHUNK = 8 << 20;
const FLAG_DATA_DESCRIPTOR = 0x08;

export class ZipError extends Error {
  constructor(readonly source: string, detail: string) {
    super(`${source}: ${detail}`);
    this.name = 'ZipError';
  }
}

export interface ZipEntryInfo {
  name: string;
  /** Uncompressed size in bytes. */
  size: number;
}

export class ZipArchive {
  private constructor(
    readonly source: string,
    private readonly zip: yauzl.ZipFile,
    private readonly byName: Map<string, yauzl.Entry>,
    private readonly fh: fs.FileHandle,
    private readonly fileSize: number,
  ) {}

  /** Opens `path` and reads its central directory (names and sizes only, no data). */
  static async open(path: string): Promise<ZipArchive> {
    let zip: yauzl.ZipFile;
    try {
      zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: false, strictFileNames: false });
    } catch (e) {
      throw new ZipError(path, `not a readable zip archive (${(e as Error).message}; truncated or not a .pth file?)`);
    }
    const byName = new Map<string, yauzl.Entry>();
    const duplicates = new Set<string>();
    try {
      await new Promise<void>((resolve, reject) => {
        zip.on('entry', (entry: yauzl.Entry) => {
          if (byName.has(entry.fileName)) duplicates.add(entry.fileName);
          byName.set(entry.fileName, entry);
          zip.readEntry();
        });
        zip.on('end', () => resolve());
        zip.on('error', reject);
        zip.readEntry();
      });
    } catch (e) {
      zip.close();
      throw new ZipError(path, `corrupt zip central directory (${(e as Error).message})`);
    }
    if (duplicates.size) {
      zip.close();
      // Which copy a reader uses is up to the reader: a damaged or tampered archive.
      throw new ZipError(path, `damaged zip: the central directory lists ${[...duplicates].map((n) => `"${n}"`).join(', ')} more than once`);
    }
    const fh = await fs.open(path, 'r');
    return new ZipArchive(path, zip, byName, fh, (await fh.stat()).size);
  }

  entries(): ZipEntryInfo[] {
    return [...this.byName.values()].map((e) => ({ name: e.fileName, size: e.uncompressedSize }));
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  size(name: string): number | undefined {
    return this.byName.get(name)?.uncompressedSize;
  }

  /**
   * Reads one entry into a fresh, 8-byte aligned buffer of its own (so float views need no copy),
   * verifying it on the way (module comment). `what` says what the entry holds, for messages.
   */
  async read(name: string, what?: string): Promise<Uint8Array> {
    const entry = this.byName.get(name);
    const label = `zip entry "${name}"${what ? ` (${what})` : ''}`;
    if (!entry) throw new ZipError(this.source, `${label} is missing`);
    const fail = (detail: string): never => { throw new ZipError(this.source, `${label} ${detail}`); };
    const out = new Uint8Array(new ArrayBuffer(entry.uncompressedSize));
    const { start, descriptor } = await this.verifyLocalRecord(entry, fail);
    const crc = entry.compressionMethod === 0 && !entry.isEncrypted()
      ? await this.readStored(start, out, fail)
      : await this.readCompressed(entry, out, fail);
    verifyCrc(entry, crc, fail);
    if (descriptor) await this.verifyDataDescriptor(entry, start, fail);
    return out;
  }

  private async readCompressed(entry: yauzl.Entry, out: Uint8Array, fail: (d: string) => never): Promise<number> {
    let pos = 0;
    let crc = 0;
    try {
      const stream = await this.zip.openReadStreamPromise(entry);
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        if (pos + chunk.length > out.length) throw new Error(`more data than the ${out.length} bytes the directory records`);
        out.set(chunk, pos);
        crc = crc32(chunk, crc);
        pos += chunk.length;
      }
    } catch (e) {
      fail(`cannot be read (${(e as Error).message}; truncated file?)`);
    }
    if (pos !== out.length) fail(`has ${pos} bytes, the directory records ${out.length} (truncated file?)`);
    return crc;
  }

  /**
   * Stored entries (all of torch.save's) are read at their data offset in chunks; the CRC-32 of
   * each chunk is computed while the next one is read, so checking costs no extra pass.
   */
  private async readStored(start: number, out: Uint8Array, fail: (d: string) => never): Promise<number> {
    if (start + out.length > this.fileSize) {
      fail(`(bytes ${start}..${start + out.length}) runs past the end of the file (${this.fileSize} bytes; truncated?)`);
    }
    const readAt = (pos: number) => this.fh.read(out, pos, Math.min(out.length - pos, READ_CHUNK), start + pos).then((r) => r.bytesRead);
    let crc = 0;
    let pos = 0;
    let next = out.length ? readAt(0) : undefined;
    while (next) {
      const n = await next;
      if (n === 0) fail(`ends early at ${pos} of ${out.length} bytes`);
      const end = pos + n;
      next = end < out.length ? readAt(end) : undefined;
      crc = crc32(out.subarray(pos, end), crc);
      pos = end;
    }
    return crc;
  }

  /**
   * The entry's local header must repeat what the central directory says: name, compression
   * method and, unless a data descriptor follows the data (bit 3, as torch.save writes), the
   * CRC-32 and both sizes. Returns where the data starts.
   */
  private async verifyLocalRecord(entry: yauzl.Entry, fail: (d: string) => never): Promise<{ start: number; descriptor: boolean }> {
    let local: yauzl.LocalFileHeader;
    try {
      local = await this.zip.readLocalFileHeaderPromise(entry);
    } catch (e) {
      return fail(`cannot be read (${(e as Error).message}; truncated or damaged file?)`);
    }
    const differs = (what: string, localValue: string | number, central: string | number) =>
      fail(`is damaged: its local header records ${what} ${localValue}, the central directory ${central}`);
    if (!Buffer.from(local.fileName).equals(Buffer.from(entry.fileNameRaw))) {
      differs('the name', JSON.stringify(Buffer.from(local.fileName).toString('latin1')), JSON.stringify(Buffer.from(entry.fileNameRaw).toString('latin1')));
    }
    if (local.compressionMethod !== entry.compressionMethod) differs('compression method', local.compressionMethod, entry.compressionMethod);
    const descriptor = (local.generalPurposeBitFlag & FLAG_DATA_DESCRIPTOR) !== 0;
    if (!descriptor) {
      if (local.crc32 !== entry.crc32) differs('CRC-32', hex(local.crc32), hex(entry.crc32));
      const sizes = localSizes(local);
      if (!sizes) fail('is damaged: its local header says zip64 but has no zip64 sizes');
      if (sizes!.compressed !== entry.compressedSize || sizes!.uncompressed !== entry.uncompressedSize) {
        differs('sizes', `${sizes!.compressed}/${sizes!.uncompressed}`, `${entry.compressedSize}/${entry.uncompressedSize} (compressed/uncompressed)`);
      }
    }
    return { start: local.fileDataStart, descriptor };
  }

  /**
   * The data descriptor after the data (optional signature, CRC-32, then 4- or 8-byte sizes for
   * zip64) must match the central directory.
   */
  private async verifyDataDescriptor(entry: yauzl.Entry, start: number, fail: (d: string) => never): Promise<void> {
    const at = start + entry.compressedSize;
    const buf = Buffer.alloc(Math.max(0, Math.min(24, this.fileSize - at)));
    if (buf.length) await this.fh.read(buf, 0, buf.length, at);
    const off = buf.length >= 4 && buf.readUInt32LE(0) === 0x08074b50 ? 4 : 0;
    if (buf.length < off + 12) return fail(`is truncated: its data descriptor (at byte ${at}) is missing`);
    const crc = buf.readUInt32LE(off);
    const small = buf.readUInt32LE(off + 4) === entry.compressedSize && buf.readUInt32LE(off + 8) === entry.uncompressedSize;
    const big = buf.length >= off + 20 &&
      Number(buf.readBigUInt64LE(off + 4)) === entry.compressedSize && Number(buf.readBigUInt64LE(off + 12)) === entry.uncompressedSize;
    if (crc !== entry.crc32 || !(small || big)) {
      fail(`is damaged: its data descriptor (at byte ${at}) disagrees with the central directory (CRC-32 ${hex(crc)} vs ${hex(entry.crc32)}, or the sizes)`);
    }
  }

  close(): void {
    this.zip.close();
    this.fh.close().catch(() => undefined);
  }
}

/** Compares the CRC-32 computed over the entry's bytes with the one the central directory records. */
function verifyCrc(entry: yauzl.Entry, crc: number, fail: (d: string) => never): void {
  if (crc !== entry.crc32) {
    fail(`is damaged: its bytes have CRC-32 ${hex(crc)}, the zip records ${hex(entry.crc32)} (corrupted in transit or on disk? get the file again)`);
  }
}

/** The local header's sizes, from its zip64 extra field when they are 0xffffffff. */
function localSizes(local: yauzl.LocalFileHeader): { compressed: number; uncompressed: number } | undefined {
  if (local.compressedSize !== 0xffffffff && local.uncompressedSize !== 0xffffffff) {
    return { compressed: local.compressedSize, uncompressed: local.uncompressedSize };
  }
  const extra = Buffer.from(local.extraField);
  for (let i = 0; i + 4 <= extra.length;) {
    const id = extra.readUInt16LE(i);
    const len = extra.readUInt16LE(i + 2);
    if (id === 0x0001 && len >= 16 && i + 4 + 16 <= extra.length) {
      return { uncompressed: Number(extra.readBigUInt64LE(i + 4)), compressed: Number(extra.readBigUInt64LE(i + 12)) };
    }
    i += 4 + len;
  }
  return undefined;
}
