/**
 * Test helpers that write `torch.save`-style files by hand: a stored-entry zip writer (optionally
 * zip64) and a pickle writer for state dicts, so tests can build well-formed and malformed
 * checkpoints without PyTorch.
 */
import { crc32 } from 'zlib';
import { promises as fs } from 'fs';

export interface ZipInput {
  name: string;
  data: Uint8Array;
  /** Store this raw-deflated form of `data` instead (compression method 8). */
  deflated?: Uint8Array;
}

/** A zip of stored (uncompressed) entries, each data start 64-byte aligned as torch writes them. */
export function buildZip(entries: ZipInput[], opts: { zip64?: boolean } = {}): Uint8Array {
  const chunks: Buffer[] = [];
  let pos = 0;
  const push = (b: Buffer) => { chunks.push(b); pos += b.length; };
  const central: Buffer[] = [];
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const headerLen = 30 + name.length;
    const padLen = (64 - ((pos + headerLen + 4) % 64)) % 64;
    const extra = Buffer.alloc(4 + padLen); // an unknown extra field (id 0xcafe) used as padding
    extra.writeUInt16LE(0xcafe, 0);
    extra.writeUInt16LE(padLen, 2);
    const crc = crc32(e.data);
    const stored = e.deflated ?? e.data;
    const method = e.deflated ? 8 : 0;
    const offset = pos;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(opts.zip64 ? 45 : 20, 4);
    local.writeUInt16LE(0, 6); // flags
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(0, 10); // time/date
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(stored.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(extra.length, 28);
    push(local); push(name); push(extra); push(Buffer.from(stored));
    const z64 = Buffer.alloc(opts.zip64 ? 28 : 0);
    if (opts.zip64) {
      z64.writeUInt16LE(0x0001, 0);
      z64.writeUInt16LE(24, 2);
      z64.writeBigUInt64LE(BigInt(e.data.length), 4);
      z64.writeBigUInt64LE(BigInt(stored.length), 12);
      z64.writeBigUInt64LE(BigInt(offset), 20);
    }
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(opts.zip64 ? 45 : 20, 4);
    cd.writeUInt16LE(opts.zip64 ? 45 : 20, 6);
    cd.writeUInt16LE(0, 8);
    cd.writeUInt16LE(method, 10);
    cd.writeUInt32LE(0, 12);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(opts.zip64 ? 0xffffffff : stored.length, 20);
    cd.writeUInt32LE(opts.zip64 ? 0xffffffff : e.data.length, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt16LE(z64.length, 30);
    cd.writeUInt16LE(0, 32);
    cd.writeUInt16LE(0, 34);
    cd.writeUInt16LE(0, 36);
    cd.writeUInt32LE(0, 38);
    cd.writeUInt32LE(opts.zip64 ? 0xffffffff : offset, 42);
    central.push(Buffer.concat([cd, name, z64]));
  }
  const cdStart = pos;
  for (const c of central) push(c);
  const cdSize = pos - cdStart;
  if (opts.zip64) {
    const eocd64At = pos;
    const r = Buffer.alloc(56);
    r.writeUInt32LE(0x06064b50, 0);
    r.writeBigUInt64LE(44n, 4);
    r.writeUInt16LE(45, 12);
    r.writeUInt16LE(45, 14);
    r.writeUInt32LE(0, 16);
    r.writeUInt32LE(0, 20);
    r.writeBigUInt64LE(BigInt(entries.length), 24);
    r.writeBigUInt64LE(BigInt(entries.length), 32);
    r.writeBigUInt64LE(BigInt(cdSize), 40);
    r.writeBigUInt64LE(BigInt(cdStart), 48);
    push(r);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeUInt32LE(0, 4);
    loc.writeBigUInt64LE(BigInt(eocd64At), 8);
    loc.writeUInt32LE(1, 16);
    push(loc);
  }
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(opts.zip64 ? 0xffff : entries.length, 8);
  eocd.writeUInt16LE(opts.zip64 ? 0xffff : entries.length, 10);
  eocd.writeUInt32LE(opts.zip64 ? 0xffffffff : cdSize, 12);
  eocd.writeUInt32LE(opts.zip64 ? 0xffffffff : cdStart, 16);
  push(eocd);
  return new Uint8Array(Buffer.concat(chunks));
}

/** Emits pickle opcodes (protocol 2, as torch.save writes). */
export class PickleWriter {
  private readonly out: number[] = [];
  private memo = 0;
  op(...bytes: number[]): this { this.out.push(...bytes); return this; }
  proto(p = 2): this { return this.op(0x80, p); }
  global(module: string, name: string): this { return this.op(0x63, ...Buffer.from(`${module}\n${name}\n`, 'latin1')); }
  stackGlobal(module: string, name: string): this { return this.str(module).str(name).op(0x93); }
  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    const n = Buffer.alloc(4);
    n.writeUInt32LE(b.length);
    return this.op(0x58, ...n, ...b);
  }
  int(v: number): this {
    if (v >= 0 && v < 256) return this.op(0x4b, v);
    if (v >= 0 && v < 65536) return this.op(0x4d, v & 0xff, v >> 8);
    if (v < -(2 ** 31) || v >= 2 ** 31) {
      // LONG1: little-endian two's complement, as pickle writes Python ints past 32 bits.
      const n = Buffer.alloc(8);
      n.writeBigInt64LE(BigInt(v));
      return this.op(0x8a, 8, ...n);
    }
    const n = Buffer.alloc(4);
    n.writeInt32LE(v);
    return this.op(0x4a, ...n);
  }
  mark(): this { return this.op(0x28); }
  tuple(): this { return this.op(0x74); }
  emptyTuple(): this { return this.op(0x29); }
  emptyDict(): this { return this.op(0x7d); }
  setitems(): this { return this.op(0x75); }
  reduce(): this { return this.op(0x52); }
  put(): this { return this.op(0x71, this.memo++ & 0xff); }
  bool(v: boolean): this { return this.op(v ? 0x88 : 0x89); }
  intTuple(vals: number[]): this { this.mark(); vals.forEach((v) => this.int(v)); return this.tuple(); }
  stop(): this { return this.op(0x2e); }
  bytes(): Uint8Array { return Uint8Array.from(this.out); }
}

export interface TensorSpec {
  name: string;
  /** torch storage class name, e.g. FloatStorage. */
  storage: string;
  key: string;
  /** Elements in the storage (the persistent id's numel). */
  numel: number;
  offset?: number;
  shape: number[];
  stride?: number[];
  /** Wrap in torch._utils._rebuild_parameter. */
  parameter?: boolean;
}

const contiguousStride = (shape: number[]) => shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));

/** Writes one tensor: _rebuild_tensor_v2(persistent storage, offset, size, stride, False, OrderedDict()). */
export function writeTensor(w: PickleWriter, t: TensorSpec): void {
  if (t.parameter) w.global('torch._utils', '_rebuild_parameter').mark();
  w.global('torch._utils', '_rebuild_tensor_v2');
  w.mark();
  w.mark().str('storage').global('torch', t.storage).str(t.key).str('cpu').int(t.numel).tuple().op(0x51);
  w.int(t.offset ?? 0).intTuple(t.shape).intTuple(t.stride ?? contiguousStride(t.shape)).bool(false);
  w.global('collections', 'OrderedDict').emptyTuple().reduce();
  w.tuple().reduce();
  if (t.parameter) w.bool(false).global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce();
}

/** A state dict pickle, optionally wrapped as {wrap: state_dict} and with a key prefix. */
export function stateDictPickle(tensors: TensorSpec[], opts: { wrap?: string; prefix?: string } = {}): Uint8Array {
  const w = new PickleWriter().proto(2);
  if (opts.wrap) w.emptyDict().str(opts.wrap);
  w.global('collections', 'OrderedDict').emptyTuple().reduce().put();
  w.mark();
  for (const t of tensors) {
    w.str(`${opts.prefix ?? ''}${t.name}`);
    writeTensor(w, t);
  }
  w.setitems();
  if (opts.wrap) w.op(0x73); // SETITEM
  return w.stop().bytes();
}

/** A torch.save zip: `<folder>/data.pkl`, `<folder>/data/<key>`, `<folder>/version`. */
export function torchZip(folder: string, pkl: Uint8Array, storages: Record<string, Uint8Array>, opts: { zip64?: boolean } = {}): Uint8Array {
  return buildZip([
    { name: `${folder}/data.pkl`, data: pkl },
    ...Object.entries(storages).map(([k, data]) => ({ name: `${folder}/data/${k}`, data })),
    { name: `${folder}/version`, data: Buffer.from('3\n') },
  ], opts);
}

export const f32Bytes = (a: Float32Array | number[]): Uint8Array => new Uint8Array(Float32Array.from(a).buffer);

export async function writeFile(path: string, bytes: Uint8Array): Promise<string> {
  await fs.writeFile(path, bytes);
  return path;
}

/**
 * A torch.save-style zip holding the tensors of a parsed safetensors file, one storage each, in
 * their stored dtype (F32 -> FloatStorage, F16 -> HalfStorage).
 */
export function pthFromSafetensors(tensors: Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }>, folder = 'archive'): Uint8Array {
  const specs: TensorSpec[] = [];
  const storages: Record<string, Uint8Array> = {};
  let i = 0;
  for (const [name, t] of tensors) {
    const storage = t.dtype === 'F16' ? 'HalfStorage' : t.dtype === 'F32' ? 'FloatStorage' : undefined;
    if (!storage) throw new Error(`pthFromSafetensors: unsupported dtype ${t.dtype}`);
    const key = String(i++);
    specs.push({ name, storage, key, numel: t.shape.reduce((a, b) => a * b, 1), shape: t.shape, parameter: i % 2 === 0 });
    storages[key] = t.bytes;
  }
  return torchZip(folder, stateDictPickle(specs), storages);
}
