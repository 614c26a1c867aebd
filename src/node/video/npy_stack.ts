/**
 * A float32 `.npy` stack (frames x H x W) written one frame at a time. The header is written first
 * with room for any frame count and rewritten in place with the final count at the end, so the
 * frames never need to be in memory together. The file is built under a temporary name and renamed
 * into place by `finish` (readers never see a partial stack); `abort` removes it.
 */
import { promises as fs } from 'fs';
import { LITTLE_ENDIAN } from '../../io/half';
import { npyHeader } from '../../io/npy';
import { tempName } from './encode';

/** Header bytes reserved: the shape of 2^53 frames of a 8-digit-sized frame still fits. */
const HEADER_BYTES = npyHeader([Number.MAX_SAFE_INTEGER, 99_999_999, 99_999_999]).length;

export class NpyStackWriter {
  private count = 0;

  private constructor(private readonly fh: fs.FileHandle, readonly target: string, private readonly tmp: string,
    private readonly height: number, private readonly width: number) {}

  static async create(target: string, height: number, width: number): Promise<NpyStackWriter> {
    const tmp = tempName(target);
    const fh = await fs.open(tmp, 'wx');
    const w = new NpyStackWriter(fh, target, tmp, height, width);
    try {
      await fh.write(npyHeader([0, height, width], HEADER_BYTES), 0, HEADER_BYTES, 0);
    } catch (e) {
      await w.abort();
      throw e;
    }
    return w;
  }

  get frames(): number { return this.count; }

  async append(depth: Float32Array): Promise<void> {
    if (depth.length !== this.height * this.width) throw new Error(`${this.target}: frame has ${depth.length} values; ${this.height}x${this.width} expected`);
    let bytes: Uint8Array;
    if (LITTLE_ENDIAN) {
      bytes = new Uint8Array(depth.buffer, depth.byteOffset, depth.byteLength);
    } else {
      bytes = new Uint8Array(depth.length * 4);
      const dv = new DataView(bytes.buffer);
      for (let i = 0; i < depth.length; i++) dv.setFloat32(i * 4, depth[i], true);
    }
    await this.fh.write(bytes, 0, bytes.length, HEADER_BYTES + this.count * bytes.length);
    this.count++;
  }

  /** Writes the final frame count, syncs, and renames the file into place. */
  async finish(): Promise<void> {
    try {
      await this.fh.write(npyHeader([this.count, this.height, this.width], HEADER_BYTES), 0, HEADER_BYTES, 0);
      await this.fh.sync();
      await this.fh.close();
      await fs.rename(this.tmp, this.target);
    } catch (e) {
      await this.fh.close().catch(() => undefined);
      await fs.rm(this.tmp, { force: true });
      throw e;
    }
  }

  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    await fs.rm(this.tmp, { force: true });
  }
}
