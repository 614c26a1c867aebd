/**
 * The few pickle (protocol 2) opcodes a `torch.save` state dict needs, written as CPython's pickler
 * writes them: strings as BINUNICODE, ints as BININT1 / BININT2 / BININT, globals by GLOBAL and
 * memoised (BINPUT, then BINGET), tuples by MARK ... TUPLE. Readers: CPython's `pickle`
 * (`torch.load` is an Unpickler over it) and ours (src/io/pickle.ts).
 */
export class PickleWriter {
  private readonly chunks: number[] = [];
  private readonly globals = new Map<string, number>();

  private bytes(...b: number[]): this { for (const x of b) this.chunks.push(x); return this; }
  private u32(v: number): this { return this.bytes(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff); }
  private raw(b: Uint8Array): this { for (const x of b) this.chunks.push(x); return this; }

  proto(): this { return this.bytes(0x80, 2); }
  mark(): this { return this.bytes(0x28); }
  tuple(): this { return this.bytes(0x74); } // TUPLE (from the last MARK)
  emptyTuple(): this { return this.bytes(0x29); }
  reduce(): this { return this.bytes(0x52); }
  setItem(): this { return this.bytes(0x73); }
  binPersId(): this { return this.bytes(0x51); }
  bool(v: boolean): this { return this.bytes(v ? 0x88 : 0x89); }
  stop(): this { return this.bytes(0x2e); }

  str(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.bytes(0x58).u32(b.length).raw(b);
  }

  int(v: number): this {
    if (!Number.isSafeInteger(v)) throw new Error(`pickle: ${v} is not an integer`);
    if (v >= 0 && v < 0x100) return this.bytes(0x4b, v);
    if (v >= 0 && v < 0x10000) return this.bytes(0x4d, v & 0xff, v >> 8);
    if (v >= -0x80000000 && v <= 0x7fffffff) return this.bytes(0x4a).u32(v);
    // LONG1: little-endian two's complement, 8 bytes are enough for a safe integer
    const out: number[] = [];
    let x = BigInt(v);
    for (let i = 0; i < 8; i++) { out.push(Number(x & 0xffn)); x >>= 8n; }
    return this.bytes(0x8a, 8, ...out);
  }

  /** `module.name`, memoised so it is written once. */
  global(module: string, name: string): this {
    const key = `${module}\n${name}\n`;
    const m = this.globals.get(key);
    if (m !== undefined) return m < 0x100 ? this.bytes(0x68, m) : this.bytes(0x6a).u32(m);
    const index = this.globals.size;
    this.globals.set(key, index);
    this.bytes(0x63).raw(new TextEncoder().encode(key));
    return index < 0x100 ? this.bytes(0x71, index) : this.bytes(0x72).u32(index);
  }

  /** A tuple of ints. */
  intTuple(v: readonly number[]): this {
    if (!v.length) return this.emptyTuple();
    this.mark();
    for (const x of v) this.int(x);
    return this.tuple();
  }

  result(): Uint8Array { return Uint8Array.from(this.chunks); }
}
