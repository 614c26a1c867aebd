/**
 * A restricted unpickler: the opcodes of pickle protocols 2 to 5 that plain data (dicts, lists,
 * tuples, strings, numbers) and `torch.save` use. It never imports or calls anything itself:
 * every GLOBAL goes through the caller's `findClass`, which returns an allowed value or throws, so
 * a pickle naming `os.system` is refused before anything runs. Hand-written because no npm
 * package offers a safe, allowlisted unpickler (the ones that exist execute or ignore globals).
 */

export class PickleError extends Error {
  constructor(readonly source: string, detail: string) {
    super(`${source}: ${detail}`);
    this.name = 'PickleError';
  }
}

/** What `findClass` may return for REDUCE: a function of the pickled arguments. */
export interface PyCallable {
  readonly pyName: string;
  call(args: readonly unknown[]): unknown;
}

export interface UnpickleOptions {
  /** Shown in error messages (e.g. `model.pth (data.pkl)`). */
  source: string;
  /** Resolves `module.name`; throws to refuse a global. */
  findClass(module: string, name: string): unknown;
  /** Resolves a persistent id (BINPERSID); torch uses it for storages. */
  persistentLoad(pid: unknown): unknown;
}

/**
 * An inert stand-in for a global the caller tolerates but never runs (training state next to a
 * state dict: numpy arrays, mmengine's HistoryBuffer). Calling it (REDUCE, NEWOBJ) only records a
 * new stand-in; BUILD state is dropped. Whatever holds one is not weights.
 */
export class PyOpaque implements PyCallable {
  constructor(readonly pyName: string) {}
  call(): PyOpaque { return new PyOpaque(`${this.pyName}(...)`); }
}

/** Tuples are frozen arrays; lists plain arrays; dicts Maps. */
export const isTuple = (v: unknown): v is readonly unknown[] => Array.isArray(v) && Object.isFrozen(v);

const OPCODE_NAMES: Record<number, string> = {
  0x92: 'NEWOBJ_EX', 0x69: 'INST', 0x6f: 'OBJ', 0x50: 'PERSID', 0x97: 'BYTEARRAY8',
  0x96: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4',
};

export function unpickle(bytes: Uint8Array, opts: UnpickleOptions): unknown {
  const { source } = opts;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const latin1 = new TextDecoder('latin1');
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = 0;
  let opPos = 0;

  const fail = (detail: string): never => { throw new PickleError(source, `pickle byte ${opPos}: ${detail}`); };
  const need = (n: number): void => {
    if (!(n >= 0) || pos + n > bytes.length) fail(`needs ${n} more bytes but the pickle ends at ${bytes.length} (truncated?)`);
  };
  const u8 = (): number => { need(1); return bytes[pos++]; };
  const u16 = (): number => { need(2); const v = dv.getUint16(pos, true); pos += 2; return v; };
  const u32 = (): number => { need(4); const v = dv.getUint32(pos, true); pos += 4; return v; };
  const i32 = (): number => { need(4); const v = dv.getInt32(pos, true); pos += 4; return v; };
  const u64 = (): number => {
    need(8);
    const v = dv.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`length ${v} is out of range`);
    return Number(v);
  };
  const take = (n: number): Uint8Array => { need(n); const b = bytes.subarray(pos, pos + n); pos += n; return b; };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('unterminated text line');
    const s = latin1.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const text = (n: number): string => {
    const b = take(n);
    try {
      return utf8.decode(b);
    } catch {
      return fail('string is not valid UTF-8');
    }
  };
  const pop = (): unknown => (stack.length ? stack.pop() : fail('stack underflow'));
  const top = (): unknown => (stack.length ? stack[stack.length - 1] : fail('stack underflow'));
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) fail('no MARK to pop to');
    return stack.splice(m as number);
  };
  const tuple = (items: unknown[]): readonly unknown[] => Object.freeze(items);
  const signedLE = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const asList = (v: unknown): unknown[] => (Array.isArray(v) && !Object.isFrozen(v) ? v : fail(`APPEND to a ${describe(v)}, not a list`));
  const asDict = (v: unknown): Map<unknown, unknown> => (v instanceof Map ? v : fail(`SETITEM on a ${describe(v)}, not a dict`));
  const setItems = (d: Map<unknown, unknown>, items: unknown[]): void => {
    if (items.length % 2) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) d.set(items[i], items[i + 1]);
  };
  const global = (module: string, name: string): unknown => opts.findClass(module, name);

  while (true) {
    opPos = pos;
    const op = u8();
    switch (op) {
      case 0x80: { // PROTO
        const p = u8();
        if (p > 5) fail(`pickle protocol ${p} is newer than 5`);
        break;
      }
      case 0x95: u64(); break; // FRAME: framing is only a read-ahead hint
      case 0x2e: { // STOP
        if (stack.length !== 1) fail(`STOP with ${stack.length} values on the stack`);
        return stack[0];
      }
      case 0x28: marks.push(stack.length); break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: stack.push(signedLE(take(u8()))); break; // LONG1
      case 0x8b: { // LONG4
        const n = i32();
        if (n < 0) fail('negative LONG4 length');
        stack.push(signedLE(take(n)));
        break;
      }
      case 0x47: { need(8); stack.push(dv.getFloat64(pos, false)); pos += 8; break; } // BINFLOAT (big-endian)
      case 0x58: stack.push(text(u32())); break; // BINUNICODE
      case 0x8c: stack.push(text(u8())); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(text(u64())); break; // BINUNICODE8
      case 0x54: { // BINSTRING (Python 2 str)
        const n = i32();
        if (n < 0) fail('negative BINSTRING length');
        stack.push(latin1.decode(take(n)));
        break;
      }
      case 0x55: stack.push(latin1.decode(take(u8()))); break; // SHORT_BINSTRING
      case 0x42: stack.push(take(u32()).slice()); break; // BINBYTES
      case 0x43: stack.push(take(u8()).slice()); break; // SHORT_BINBYTES
      case 0x8e: stack.push(take(u64()).slice()); break; // BINBYTES8
      case 0x29: stack.push(tuple([])); break; // EMPTY_TUPLE
      case 0x85: stack.push(tuple([pop()])); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push(tuple([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push(tuple([a, b, c])); break; } // TUPLE3
      case 0x74: stack.push(tuple(popMark())); break; // TUPLE
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x64: { const d = new Map(); setItems(d, popMark()); stack.push(d); break; } // DICT
      case 0x61: { const v = pop(); asList(top()).push(v); break; } // APPEND
      case 0x65: { const items = popMark(); asList(top()).push(...items); break; } // APPENDS
      case 0x73: { const v = pop(); const k = pop(); asDict(top()).set(k, v); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(asDict(top()), items); break; } // SETITEMS
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET, LONG_BINGET
        const i = op === 0x68 ? u8() : u32();
        if (!memo.has(i)) fail(`memo slot ${i} was never stored`);
        stack.push(memo.get(i));
        break;
      }
      case 0x63: { const module = line(); const name = line(); stack.push(global(module, name)); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const fn = pop() as PyCallable;
        if (!isTuple(args)) fail('REDUCE arguments are not a tuple');
        if (typeof fn !== 'object' || fn === null || typeof fn.call !== 'function') fail(`REDUCE on a ${describe(fn)}, which is not callable`);
        stack.push(fn.call(args as readonly unknown[]));
        break;
      }
      case 0x62: { // BUILD
        pop();
        // OrderedDict's `_metadata` (module versions, not weights), or an inert stand-in's state.
        if (!(top() instanceof Map) && !(top() instanceof PyOpaque)) fail(`BUILD on a ${describe(top())}; only dicts are supported`);
        break;
      }
      case 0x81: { // NEWOBJ: only an inert stand-in's (cls.__new__ is never run)
        const args = pop();
        const cls = pop();
        if (!(cls instanceof PyOpaque) || !isTuple(args)) fail(`unsupported pickle opcode 0x81 (NEWOBJ) on a ${describe(cls)}`);
        stack.push((cls as PyOpaque).call());
        break;
      }
      case 0x51: stack.push(opts.persistentLoad(pop())); break; // BINPERSID
      default:
        fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}${OPCODE_NAMES[op] ? ` (${OPCODE_NAMES[op]})` : ''}`);
    }
  }
}

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof Map) return 'dict';
  if (Array.isArray(v)) return Object.isFrozen(v) ? 'tuple' : 'list';
  if (typeof v === 'object' && 'pyName' in (v as object)) return String((v as PyCallable).pyName);
  return typeof v;
}
