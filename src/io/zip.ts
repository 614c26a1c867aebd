/**
 * Random-access zip reading over a file descriptor (yauzl: central directory, zip64, stored and
 * deflated entries, size validation). Only the entries asked for are read, one at a time, each
 * into its own buffer, so a 1.3 GB checkpoint is never held twice.
 */
import { promises as fs } from 'fs';
import * as yauzl from 'yauzl';

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
    try {
      await new Promise<void>((resolve, reject) => {
        zip.on('entry', (entry: yauzl.Entry) => {
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
   * Reads one entry into a fresh, 8-byte aligned buffer of its own (so float views need no copy).
   * Chunks are copied in as they arrive and then dropped: peak extra memory is one chunk.
   */
  async read(name: string): Promise<Uint8Array> {
    const entry = this.byName.get(name);
    if (!entry) throw new ZipError(this.source, `zip entry "${name}" is missing`);
    const out = new Uint8Array(new ArrayBuffer(entry.uncompressedSize));
    if (entry.compressionMethod === 0 && !entry.isEncrypted()) return this.readStored(entry, out);
    let pos = 0;
    try {
      const stream = await this.zip.openReadStreamPromise(entry);
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        if (pos + chunk.length > out.length) throw new Error(`more data than the ${out.length} bytes the directory records`);
        out.set(chunk, pos);
        pos += chunk.length;
      }
    } catch (e) {
      throw new ZipError(this.source, `cannot read zip entry "${name}" (${(e as Error).message}; truncated file?)`);
    }
    if (pos !== out.length) {
      throw new ZipError(this.source, `zip entry "${name}" has ${pos} bytes, the directory records ${out.length} (truncated file?)`);
    }
    return out;
  }

  /** Stored entries (all of torch.save's) are read in one call at their data offset. */
  private async readStored(entry: yauzl.Entry, out: Uint8Array): Promise<Uint8Array> {
    const name = entry.fileName;
    let start: number;
    try {
      start = (await this.zip.readLocalFileHeaderPromise(entry, { minimal: true })).fileDataStart;
    } catch (e) {
      throw new ZipError(this.source, `cannot read zip entry "${name}" (${(e as Error).message}; truncated file?)`);
    }
    if (start + out.length > this.fileSize) {
      throw new ZipError(this.source, `zip entry "${name}" (bytes ${start}..${start + out.length}) runs past the end of the file (${this.fileSize} bytes; truncated?)`);
    }
    let pos = 0;
    while (pos < out.length) {
      const { bytesRead } = await this.fh.read(out, pos, Math.min(out.length - pos, 1 << 30), start + pos);
      if (bytesRead === 0) throw new ZipError(this.source, `zip entry "${name}" ends early at ${pos} of ${out.length} bytes`);
      pos += bytesRead;
    }
    return out;
  }

  close(): void {
    this.zip.close();
    this.fh.close().catch(() => undefined);
  }
}
