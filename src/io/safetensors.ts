/**
 * safetensors: 8-byte little-endian header length, a JSON header, then raw little-endian data.
 * https://github.com/huggingface/safetensors (format spec). Browser-safe: bytes in, bytes out.
 *
 * We write our own reader and writer because the npm `safetensors` package has no writer, no
 * types, and mis-handles byte offsets; the format is small enough to validate fully here.
 */
import { LITTLE_ENDIAN, f16ToF32, bf16ToF32, f32ToF16 } from './half';

export type Dtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const DTYPE_BYTES: Record<Dtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** The safetensors spec's per-tensor header entry. */
export interface TensorInfo {
  dtype: Dtype;
  shape: number[];
  data_offsets: [number, number];
}

export interface SafetensorsEntry {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** A view into the file's bytes (no copy). */
  bytes: Uint8Array;
  /**
   * Set when `bytes` is read from the file on each access and not held (src/node/safetensors_file.ts
   * `lazy`): what is made from it is made on each read too, so that nothing holds the model in JS.
   */
  readOnAccess?: true;
}

export interface ParsedSafetensors {
  source: string;
  metadata: Record<string, string>;
  tensors: Map<string, SafetensorsEntry>;
}

/** Headers above this are refused: real headers are a few hundred KB at most. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export class SafetensorsError extends Error {
  constructor(readonly source: string, detail: string) {
    super(`${source}: not a valid safetensors file: ${detail}`);
    this.name = 'SafetensorsError';
  }
}


const isNonNegInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Where one tensor's bytes lie in the data section (after the 8-byte length and the header). */
export interface SafetensorsSpan {
  name: string;
  dtype: Dtype;
  shape: number[];
  begin: number;
  end: number;
}

export interface SafetensorsLayout {
  metadata: Record<string, string>;
  /** Bytes before the data section: 8 + the header's length. */
  dataStart: number;
  /** In header order. */
  spans: SafetensorsSpan[];
}

/**
 * The header's length from the first 8 bytes, validated against the file's size (`totalBytes`):
 * what to read before `parseSafetensorsLayout`.
 */
export function safetensorsHeaderLength(first8: Uint8Array, totalBytes: number, source = '<buffer>'): number {
  const fail = (detail: string): never => { throw new SafetensorsError(source, detail); };
  if (totalBytes < 8 || first8.byteLength < 8) fail(`file is ${totalBytes} bytes, shorter than the 8-byte header length`);
  const headerLen = Number(new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true));
  if (headerLen > MAX_HEADER_BYTES) fail(`header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (8 + headerLen > totalBytes) fail(`header length ${headerLen} runs past the end of the file (${totalBytes} bytes; truncated?)`);
  return headerLen;
}

/**
 * Validates a file's header (`head`: at least its first 8 + header-length bytes) against the
 * file's size: every tensor's dtype, shape and span, and that the spans tile the data section.
 */
export function parseSafetensorsLayout(head: Uint8Array, totalBytes: number, source = '<buffer>'): SafetensorsLayout {
  const fail = (detail: string): never => { throw new SafetensorsError(source, detail); };
  const headerLen = safetensorsHeaderLength(head, totalBytes, source);
  if (head.byteLength < 8 + headerLen) fail(`header of ${headerLen} bytes, but only ${head.byteLength - 8} were given`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(8, 8 + headerLen)));
  } catch (e) {
    fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const dataBytes = totalBytes - 8 - headerLen;
  const metadata: Record<string, string> = {};
  const spans: SafetensorsSpan[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('__metadata__ is not an object');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__.${k} is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const info = raw as Partial<TensorInfo>;
    if (typeof info !== 'object' || info === null) fail(`entry "${name}" is not an object`);
    const dtype = info.dtype as Dtype;
    if (!(dtype in DTYPE_BYTES)) fail(`tensor "${name}" has unknown dtype ${JSON.stringify(info.dtype)}`);
    if (!Array.isArray(info.shape) || !info.shape.every(isNonNegInt)) {
      fail(`tensor "${name}" has an invalid shape ${JSON.stringify(info.shape)}`);
    }
    const off = info.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !isNonNegInt(off[0]) || !isNonNegInt(off[1]) || off[0] > off[1]) {
      fail(`tensor "${name}" has invalid data_offsets ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as [number, number];
    if (end > dataBytes) {
      fail(`tensor "${name}" data_offsets [${begin}, ${end}] run past the data section (${dataBytes} bytes)`);
    }
    const shape = info.shape as number[];
    const expected = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
    if (end - begin !== expected) {
      fail(`tensor "${name}" is ${dtype} [${shape.join(', ')}] = ${expected} bytes, but data_offsets span ${end - begin}`);
    }
    spans.push({ name, dtype, shape, begin, end });
  }
  const sorted = [...spans].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const { begin, end, name } of sorted) {
    if (begin < cursor) fail(`tensor "${name}" [${begin}, ${end}] overlaps the previous tensor (ends at ${cursor})`);
    if (begin > cursor) fail(`bytes [${cursor}, ${begin}) before tensor "${name}" belong to no tensor`);
    cursor = end;
  }
  if (cursor !== dataBytes) fail(`data section is ${dataBytes} bytes but tensors cover ${cursor}`);
  return { metadata, dataStart: 8 + headerLen, spans };
}

/** Parses and validates a whole file held in memory; tensors stay views into `bytes`. */
export function parseSafetensors(bytes: Uint8Array, source = '<buffer>'): ParsedSafetensors {
  const { metadata, dataStart, spans } = parseSafetensorsLayout(bytes, bytes.byteLength, source);
  const tensors = new Map<string, SafetensorsEntry>();
  for (const { name, dtype, shape, begin, end } of spans) tensors.set(name, { name, dtype, shape, bytes: bytes.subarray(dataStart + begin, dataStart + end) });
  return { source, metadata, tensors };
}

/** Decodes a floating-point entry to float32 (a copy, aligned). */
export function entryToFloat32(entry: SafetensorsEntry, source = '<buffer>'): Float32Array {
  const n = entry.shape.reduce((a, b) => a * b, 1);
  const dv = new DataView(entry.bytes.buffer, entry.bytes.byteOffset, entry.bytes.byteLength);
  const out = new Float32Array(n);
  switch (entry.dtype) {
    case 'F32':
      if (LITTLE_ENDIAN && entry.bytes.byteOffset % 4 === 0) {
        out.set(new Float32Array(entry.bytes.buffer, entry.bytes.byteOffset, n));
      } else {
        for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
      }
      return out;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
      return out;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = f16ToF32(dv.getUint16(i * 2, true));
      return out;
    case 'BF16':
      for (let i = 0; i < n; i++) out[i] = bf16ToF32(dv.getUint16(i * 2, true));
      return out;
    default:
      throw new SafetensorsError(source, `tensor "${entry.name}" has dtype ${entry.dtype}; a floating-point dtype (F32, F16, BF16, F64) was expected`);
  }
}

export interface TensorToWrite {
  name: string;
  shape: number[];
  data: Float32Array;
  /** Stored dtype; float32 data is rounded to nearest-even for F16. Default F32. */
  dtype?: 'F32' | 'F16';
}

/**
 * The file's first part: the 8-byte length and the JSON header, padded with spaces so the data
 * section starts 8-byte aligned (as the reference writer does). Tensors are laid out in order.
 */
export function safetensorsHeader(tensors: Array<{ name: string; shape: number[]; dtype: 'F32' | 'F16' | 'I8' }>, metadata?: Record<string, string>): { bytes: Uint8Array; dataBytes: number } {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    if (Object.prototype.hasOwnProperty.call(header, t.name)) throw new Error(`safetensors: duplicate tensor name "${t.name}"`);
    const len = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + len] };
    offset += len;
  }
  const enc = new TextEncoder();
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + enc.encode(json).length) % 8)) % 8);
  const headerBytes = enc.encode(json);
  const bytes = new Uint8Array(8 + headerBytes.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  bytes.set(headerBytes, 8);
  return { bytes, dataBytes: offset };
}

/** One tensor's data in the stored dtype (little-endian). */
export function encodeTensorData(data: Float32Array, dtype: 'F32' | 'F16'): Uint8Array {
  if (dtype === 'F32' && LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new DataView(new ArrayBuffer(data.length * DTYPE_BYTES[dtype]));
  if (dtype === 'F32') for (let i = 0; i < data.length; i++) out.setFloat32(i * 4, data[i], true);
  else for (let i = 0; i < data.length; i++) out.setUint16(i * 2, f32ToF16(data[i]), true);
  return new Uint8Array(out.buffer);
}

/** Serialises tensors (in the given order) with optional string metadata. */
export function serializeSafetensors(tensors: TensorToWrite[], metadata?: Record<string, string>): Uint8Array {
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) {
      throw new Error(`serializeSafetensors: "${t.name}" has ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    }
  }
  const typed = tensors.map((t) => ({ ...t, dtype: t.dtype ?? 'F32' }));
  const { bytes: head, dataBytes } = safetensorsHeader(typed, metadata);
  const out = new Uint8Array(head.length + dataBytes);
  out.set(head, 0);
  let pos = head.length;
  for (const t of typed) {
    const data = encodeTensorData(t.data, t.dtype);
    out.set(data, pos);
    pos += data.length;
  }
  return out;
}
