/**
 * A zip archive already in memory (a `.pth` picked or downloaded in a page), with the reading
 * surface torch_zip.ts needs. Pure TypeScript: the Node reader (zip.ts, yauzl) works on file
 * descriptors. Hand-written because the page has the whole file anyway and torch.save's zips are
 * simple (stored entries); deflated entries are inflated with the browser's DecompressionStream.
 * Entries are read through the central directory, zip64 included (checkpoints over 4 GB).
 */
import { ZipError, crc32Table, crcMismatch } from './zip_common';

export { ZipError };

export interface ZipEntryInfo { name: string; size: number }

interface Entry { name: string; method: number; compressedSize: number; size: number; localHeader: number; flags: number; crc: number }

/** What torch_zip.ts reads from an archive (implemented by zip.ts's ZipArchive and BytesZip). */
export interface ZipSource {
  readonly source: string;
  entries(): ZipEntryInfo[];
  has(name: string): boolean;
  size(name: string): number | undefined;
  /** `what` says what the entry holds (e.g. which tensors), for error messages. */
  read(name: string, what?: string): Promise<Uint8Array>;
  close(): void;
}

const EOCD = 0x06054b50, EOCD64 = 0x06064b50, EOCD64_LOCATOR = 0x07064b50, CENTRAL = 0x02014b50, LOCAL = 0x04034b50;

export class BytesZip implements ZipSource {
  private readonly byName = new Map<string, Entry>();
  private readonly dv: DataView;

  constructor(private readonly bytes: Uint8Array, readonly source = '<zip>') {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const fail = (what: string): never => { throw new ZipError(source, `not a readable zip archive (${what}; truncated or not a .pth file?)`); };
    // The end-of-central-directory record: in the last 22 + 65535 bytes.
    let eocd = -1;
    for (let p = bytes.length - 22; p >= Math.max(0, bytes.length - 22 - 0xffff); p--) {
      if (this.u32(p) === EOCD) { eocd = p; break; }
    }
    if (eocd < 0) fail('no end-of-central-directory record');
    let count = this.dv.getUint16(eocd + 10, true);
    let dirSize = this.u32(eocd + 12);
    let dirOffset = this.u32(eocd + 16);
    if (count === 0xffff || dirOffset === 0xffffffff || dirSize === 0xffffffff) {
      const loc = eocd - 20;
      if (loc < 0 || this.u32(loc) !== EOCD64_LOCATOR) fail('zip64 locator missing');
      const e64 = this.u64(loc + 8);
      if (e64 + 56 > bytes.length || this.u32(e64) !== EOCD64) fail('zip64 end record missing');
      count = this.u64(e64 + 32);
      dirSize = this.u64(e64 + 40);
      dirOffset = this.u64(e64 + 48);
    }
    if (dirOffset + dirSize > bytes.length) fail(`central directory runs past the end (${bytes.length} bytes)`);
    const dec = new TextDecoder();
    let p = dirOffset;
    for (let i = 0; i < count; i++) {
      if (p + 46 > bytes.length || this.u32(p) !== CENTRAL) fail(`central directory entry ${i} is damaged`);
      const flags = this.dv.getUint16(p + 8, true);
      const method = this.dv.getUint16(p + 10, true);
      const crc = this.u32(p + 16);
      let compressedSize = this.u32(p + 20);
      let size = this.u32(p + 24);
      const nameLen = this.dv.getUint16(p + 28, true), extraLen = this.dv.getUint16(p + 30, true), commentLen = this.dv.getUint16(p + 32, true);
      let localHeader = this.u32(p + 42);
      const name = dec.decode(bytes.subarray(p + 46, p + 46 + nameLen));
      // zip64 extended information: the 64-bit values, in order, of the fields that are 0xffffffff.
      for (let x = p + 46 + nameLen; x + 4 <= p + 46 + nameLen + extraLen;) {
        const id = this.dv.getUint16(x, true), len = this.dv.getUint16(x + 2, true);
        if (id === 0x0001) {
          let q = x + 4;
          if (size === 0xffffffff) { size = this.u64(q); q += 8; }
          if (compressedSize === 0xffffffff) { compressedSize = this.u64(q); q += 8; }
          if (localHeader === 0xffffffff) { localHeader = this.u64(q); }
        }
        x += 4 + len;
      }
      this.byName.set(name, { name, method, compressedSize, size, localHeader, flags, crc });
      p += 46 + nameLen + extraLen + commentLen;
    }
  }

  private u32(p: number): number { return this.dv.getUint32(p, true); }
  private u64(p: number): number {
    const v = this.dv.getUint32(p, true) + this.dv.getUint32(p + 4, true) * 2 ** 32;
    if (!Number.isSafeInteger(v)) throw new ZipError(this.source, 'a zip64 size is too large');
    return v;
  }

  entries(): ZipEntryInfo[] { return [...this.byName.values()].map((e) => ({ name: e.name, size: e.size })); }
  has(name: string): boolean { return this.byName.has(name); }
  size(name: string): number | undefined { return this.byName.get(name)?.size; }

  /**
   * Stored entries are copied into their own 8-byte aligned buffer (float views need no copy);
   * every entry's CRC-32 is checked against the central directory, as the Node reader does.
   */
  async read(name: string, what?: string): Promise<Uint8Array> {
    const out = await this.inflate(name);
    const crc = crc32Table(out);
    const e = this.byName.get(name)!;
    if (crc !== e.crc) throw new ZipError(this.source, `zip entry "${name}"${what ? ` (${what})` : ''} ${crcMismatch(crc, e.crc)}`);
    return out;
  }

  private async inflate(name: string): Promise<Uint8Array> {
    const e = this.byName.get(name);
    if (!e) throw new ZipError(this.source, `zip entry "${name}" is missing`);
    if (e.flags & 1) throw new ZipError(this.source, `zip entry "${name}" is encrypted`);
    const h = e.localHeader;
    if (h + 30 > this.bytes.length || this.u32(h) !== LOCAL) throw new ZipError(this.source, `zip entry "${name}": local header missing (truncated file?)`);
    const start = h + 30 + this.dv.getUint16(h + 26, true) + this.dv.getUint16(h + 28, true);
    if (start + e.compressedSize > this.bytes.length) {
      throw new ZipError(this.source, `zip entry "${name}" (bytes ${start}..${start + e.compressedSize}) runs past the end of the file (${this.bytes.length} bytes; truncated?)`);
    }
    const raw = this.bytes.subarray(start, start + e.compressedSize);
    if (e.method === 0) {
      const out = new Uint8Array(new ArrayBuffer(e.size));
      out.set(raw);
      return out;
    }
    if (e.method !== 8) throw new ZipError(this.source, `zip entry "${name}" uses compression method ${e.method}; only stored and deflated entries are supported`);
    let out: Uint8Array;
    try {
      const stream = new Blob([raw as BlobPart]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
      out = new Uint8Array(await new Response(stream).arrayBuffer());
    } catch (err) {
      throw new ZipError(this.source, `cannot inflate zip entry "${name}" (${(err as Error).message})`);
    }
    if (out.length !== e.size) throw new ZipError(this.source, `zip entry "${name}" has ${out.length} bytes, the directory records ${e.size}`);
    return out;
  }

  close(): void {}
}
