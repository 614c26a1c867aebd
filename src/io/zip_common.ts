/**
 * What both zip readers share: the error type, and a table-driven CRC-32 (pure TypeScript, for
 * the in-memory reader in pages and for Node versions without zlib.crc32).
 */
export class ZipError extends Error {
  constructor(readonly source: string, detail: string) {
    super(`${source}: ${detail}`);
    this.name = 'ZipError';
  }
}

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

export const hex = (v: number): string => `0x${v.toString(16).padStart(8, '0')}`;

/** The message for bytes whose CRC-32 is not the one the zip records. */
export function crcMismatch(crc: number, recorded: number): string {
  return `is damaged: its bytes have CRC-32 ${hex(crc)}, the zip records ${hex(recorded)} (corrupted in transit or on disk? get the file again)`;
}
