/**
 * A streaming writer of stored (uncompressed) zip archives, laid out as PyTorch's
 * `PyTorchStreamWriter` lays out a `torch.save` file: every entry's data starts at a multiple of
 * `align` bytes (64), reached with padding in an extra field of id "FB" in the local header, so a
 * reader may map the storages in place. Hand-written: the maintained npm zip writers (yazl, fflate,
 * archiver) have no way to pad a local header to an alignment, and this is all a checkpoint needs.
 * No zip64: archives past 4 GiB are refused with one clear error (no released Depth Anything V1/V2
 * checkpoint comes near: ViT-L is 1.3 GB).
 */
import { ZipError, crc32Table } from './zip_common';

export interface ZipSink {
  write(bytes: Uint8Array): Promise<void>;
}

const LOCAL = 0x04034b50, CENTRAL = 0x02014b50, EOCD = 0x06054b50;
const PAD_ID = 0x4246; // "FB", as PyTorch's writer
const MAX32 = 0xffffffff;

interface Written { name: Uint8Array; crc: number; size: number; offset: number }

export class StoredZipWriter {
  private offset = 0;
  private readonly entries: Written[] = [];

  constructor(
    private readonly sink: ZipSink,
    private readonly source: string,
    private readonly crc32: (data: Uint8Array, value?: number) => number = crc32Table,
    private readonly align = 64,
  ) {}

  private async put(b: Uint8Array): Promise<void> {
    await this.sink.write(b);
    this.offset += b.length;
  }

  private tooBig(what: string): never {
    throw new ZipError(this.source, `${what} passes 4 GiB, which needs zip64 (not written here)`);
  }

  /** One entry whose data is `parts` concatenated (so a tensor's bytes need no copy). */
  async add(name: string, parts: Uint8Array[]): Promise<void> {
    if (this.entries.some((e) => new TextDecoder().decode(e.name) === name)) throw new ZipError(this.source, `entry ${name} added twice`);
    const nameBytes = new TextEncoder().encode(name);
    let crc = 0;
    let size = 0;
    for (const p of parts) { crc = this.crc32(p, crc); size += p.length; }
    if (size > MAX32) this.tooBig(`entry ${name}`);
    const start = this.offset;
    const unpadded = start + 30 + nameBytes.length + 4;
    const pad = (this.align - (unpadded % this.align)) % this.align;
    const head = new Uint8Array(30 + nameBytes.length + 4 + pad);
    const dv = new DataView(head.buffer);
    dv.setUint32(0, LOCAL, true);
    dv.setUint16(4, 20, true); // version needed: 2.0
    dv.setUint16(6, 0x800, true); // flags: names are UTF-8
    dv.setUint16(8, 0, true); // method: stored
    dv.setUint16(10, 0, true); // time
    dv.setUint16(12, 0x21, true); // date: 1980-01-01, as PyTorch's fixed timestamps
    dv.setUint32(14, crc, true);
    dv.setUint32(18, size, true);
    dv.setUint32(22, size, true);
    dv.setUint16(26, nameBytes.length, true);
    dv.setUint16(28, 4 + pad, true);
    head.set(nameBytes, 30);
    dv.setUint16(30 + nameBytes.length, PAD_ID, true);
    dv.setUint16(32 + nameBytes.length, pad, true); // the padding bytes stay 0
    await this.put(head);
    for (const p of parts) await this.put(p);
    if (this.offset > MAX32) this.tooBig('the archive');
    this.entries.push({ name: nameBytes, crc, size, offset: start });
  }

  /** The central directory and its end record. */
  async finish(): Promise<void> {
    const cdStart = this.offset;
    const cdSize = this.entries.reduce((a, e) => a + 46 + e.name.length, 0);
    if (cdStart + cdSize > MAX32 || this.entries.length > 0xffff) this.tooBig('the central directory');
    const out = new Uint8Array(cdSize + 22);
    const dv = new DataView(out.buffer);
    let p = 0;
    for (const e of this.entries) {
      dv.setUint32(p, CENTRAL, true);
      dv.setUint16(p + 4, 20, true); // made by
      dv.setUint16(p + 6, 20, true); // needed
      dv.setUint16(p + 8, 0x800, true);
      dv.setUint16(p + 10, 0, true);
      dv.setUint16(p + 12, 0, true);
      dv.setUint16(p + 14, 0x21, true);
      dv.setUint32(p + 16, e.crc, true);
      dv.setUint32(p + 20, e.size, true);
      dv.setUint32(p + 24, e.size, true);
      dv.setUint16(p + 28, e.name.length, true);
      // extra, comment, disk, internal and external attributes: 0
      dv.setUint32(p + 42, e.offset, true);
      out.set(e.name, p + 46);
      p += 46 + e.name.length;
    }
    dv.setUint32(p, EOCD, true);
    dv.setUint16(p + 8, this.entries.length, true);
    dv.setUint16(p + 10, this.entries.length, true);
    dv.setUint32(p + 12, cdSize, true);
    dv.setUint32(p + 16, cdStart, true);
    await this.put(out);
  }
}
