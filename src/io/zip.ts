/**
 * Random-access zip reading over a file descriptor (yauzl: central directory, zip64, stored and
 * deflated entries, size validation). Only the entries asked for are read, one at a time, each
 * into its own buffer, so a 1.3 GB checkpoint is never held twice.
 *
 * Every entry read is verified (see `verifyLocalHeader`, `verifyDataDescriptor`, `verifyCrc`):
 * its local header agrees with the central directory (name, method, CRC-32, sizes), its data
 * descriptor too when it has one, and the CRC-32 of its bytes, computed while they are read, is
 * the one recorded. Neither yauzl nor PyTorch's loader checks the CRC.
 */
import { promises as fs } from 'fs';
import * as zlib from 'zlib';
import * as yauzl from 'yauzl';
import { ZipError, crc32Table, crcMismatch, hex } from './zip_common';

/**
 * zlib.crc32 (Node >= 20.15; about 2 GB/s per core here); on older Node 20 a table-driven
 * fallback, as the package still allows Node 20.9.
 */
export const crc32: (data: Uint8Array, value?: number) => number =
  typeof zlib.crc32 === 'function' ? zlib.crc32 : crc32Table;

/** Stored entries are read in chunks of this size, each CRC'd while the next is being read. */
const READ_CHUNK = 8 << 20;
const FLAG_DATA_DESCRIPTOR = 0x08;

export { ZipError, crc32Table };

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
    const local = await this.readLocalHeader(entry, fail);
    verifyLocalHeader(entry, local, fail);
    // torch.save writes a data descriptor after every entry's data: fetch it alongside the data.
    const descriptor = local.flags & FLAG_DATA_DESCRIPTOR ? this.readAt(local.dataStart + entry.compressedSize, 24) : undefined;
    descriptor?.catch(() => undefined); // awaited below; don't report it unhandled if the data read fails first
    const crc = entry.compressionMethod === 0 && !entry.isEncrypted()
      ? await this.readStored(local.dataStart, out, fail)
      : await this.readCompressed(entry, out, fail);
    verifyCrc(entry, crc, fail);
    if (descriptor) verifyDataDescriptor(entry, local.dataStart + entry.compressedSize, await descriptor, fail);
    return out;
  }

  private async readAt(position: number, length: number): Promise<Buffer> {
    const buf = Buffer.alloc(Math.max(0, Math.min(length, this.fileSize - position)));
    const { bytesRead } = buf.length ? await this.fh.read(buf, 0, buf.length, position) : { bytesRead: 0 };
    return buf.subarray(0, bytesRead);
  }

  /**
   * The entry's local header, parsed here (yauzl's reader takes two reads per header, which
   * shows on a loaded machine over hundreds of entries): one read covers it unless its extra
   * field is unusually long.
   */
  private async readLocalHeader(entry: yauzl.Entry, fail: (d: string) => never): Promise<LocalHeader> {
    const at = entry.relativeOffsetOfLocalHeader;
    let buf = await this.readAt(at, 30 + entry.fileNameLength + 256);
    if (buf.length < 30 || buf.readUInt32LE(0) !== 0x04034b50) fail(`is damaged: no local file header at byte ${at} (truncated or damaged file?)`);
    const nameLength = buf.readUInt16LE(26);
    const end = 30 + nameLength + buf.readUInt16LE(28);
    if (buf.length < end) buf = await this.readAt(at, end);
    if (buf.length < end) fail(`is truncated: its local header (at byte ${at}) runs past the end of the file`);
    return {
      flags: buf.readUInt16LE(6),
      method: buf.readUInt16LE(8),
      crc32: buf.readUInt32LE(14),
      compressedSize: buf.readUInt32LE(18),
      uncompressedSize: buf.readUInt32LE(22),
      name: buf.subarray(30, 30 + nameLength),
      extra: buf.subarray(30 + nameLength, end),
      dataStart: at + end,
    };
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
   * each chunk is computed while the next one is read, so checking needs no second pass.
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

  close(): void {
    this.zip.close();
    this.fh.close().catch(() => undefined);
  }
}

interface LocalHeader {
  flags: number;
  method: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  name: Buffer;
  extra: Buffer;
  /** Where the entry's data starts in the file. */
  dataStart: number;
}

/**
 * The local header must repeat what the central directory says: name, compression method and,
 * unless a data descriptor follows the data (flag bit 3, as torch.save writes), the CRC-32 and
 * both sizes.
 */
function verifyLocalHeader(entry: yauzl.Entry, local: LocalHeader, fail: (d: string) => never): void {
  const differs = (what: string, localValue: string | number, central: string | number) =>
    fail(`is damaged: its local header records ${what} ${localValue}, the central directory ${central}`);
  if (!local.name.equals(entry.fileNameRaw)) {
    differs('the name', JSON.stringify(local.name.toString('latin1')), JSON.stringify(entry.fileNameRaw.toString('latin1')));
  }
  if (local.method !== entry.compressionMethod) differs('compression method', local.method, entry.compressionMethod);
  if (local.flags & FLAG_DATA_DESCRIPTOR) return;
  if (local.crc32 !== entry.crc32) differs('CRC-32', hex(local.crc32), hex(entry.crc32));
  const sizes = localSizes(local) ?? fail('is damaged: its local header says zip64 but has no zip64 sizes');
  if (sizes.compressed !== entry.compressedSize || sizes.uncompressed !== entry.uncompressedSize) {
    differs('sizes', `${sizes.compressed}/${sizes.uncompressed}`, `${entry.compressedSize}/${entry.uncompressedSize} (compressed/uncompressed)`);
  }
}

/**
 * The data descriptor after the data (optional signature, CRC-32, then 4-byte sizes, or 8-byte
 * ones for zip64) must match the central directory.
 */
function verifyDataDescriptor(entry: yauzl.Entry, at: number, buf: Buffer, fail: (d: string) => never): void {
  const off = buf.length >= 4 && buf.readUInt32LE(0) === 0x08074b50 ? 4 : 0;
  if (buf.length < off + 12) fail(`is truncated: its data descriptor (at byte ${at}) is missing`);
  const crc = buf.readUInt32LE(off);
  const small = buf.readUInt32LE(off + 4) === entry.compressedSize && buf.readUInt32LE(off + 8) === entry.uncompressedSize;
  const big = buf.length >= off + 20 &&
    Number(buf.readBigUInt64LE(off + 4)) === entry.compressedSize && Number(buf.readBigUInt64LE(off + 12)) === entry.uncompressedSize;
  if (crc !== entry.crc32 || !(small || big)) {
    fail(`is damaged: its data descriptor (at byte ${at}) disagrees with the central directory (CRC-32 ${hex(crc)} vs ${hex(entry.crc32)}, or the sizes)`);
  }
}

/** Compares the CRC-32 computed over the entry's bytes with the one the central directory records. */
function verifyCrc(entry: yauzl.Entry, crc: number, fail: (d: string) => never): void {
  if (crc !== entry.crc32) {
    fail(crcMismatch(crc, entry.crc32));
  }
}

/** The local header's sizes, from its zip64 extra field when they are 0xffffffff. */
function localSizes(local: LocalHeader): { compressed: number; uncompressed: number } | undefined {
  if (local.compressedSize !== 0xffffffff && local.uncompressedSize !== 0xffffffff) {
    return { compressed: local.compressedSize, uncompressed: local.uncompressedSize };
  }
  const extra = local.extra;
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
