/**
 * Seeded mutants of weights files for the fuzz test: every mutant is a pure function of
 * (corpus file, seed), so a failing case replays with `FUZZ_SEED=<seed> FUZZ_N=1`.
 *
 * Zip checkpoints (.pth) get raw damage anywhere (bit flips, truncations, inserted and deleted
 * runs, overwritten local headers, central directory records and end record) and, rebuilt with
 * valid CRCs so that the checks behind the CRC are reached, huge declared shapes and short
 * storages. Safetensors files get everything their format can detect: truncations, inserted and
 * deleted runs, a damaged header length, damaged JSON structure, changed shape/offset digits and
 * huge shapes. Not in-place flips of tensor bytes or of characters inside names: safetensors
 * carries no checksum, so such a file is a different valid file that no reader can tell apart.
 */
import { ParsedSafetensors } from '../../src/io/safetensors';
import { TensorSpec, stateDictPickle, torchZip } from '../io/torch_writer';
import { rng } from '../../src/verify/bench';

export interface CorpusFile {
  /** Short name for messages. */
  name: string;
  kind: 'pth' | 'safetensors';
  path: string;
  /** Passed to convert as --config / --hf-config. */
  config?: string;
  hfConfig?: string;
  /** For .pth: the same tensors as safetensors, to rebuild valid-CRC variants from. */
  tensorsFrom?: string;
}

export interface Mutant { kind: string; detail: string; bytes: Uint8Array }


type Rand = () => number;
const int = (r: Rand, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo)); // [lo, hi)
const randomBytes = (r: Rand, n: number) => Uint8Array.from({ length: n }, () => int(r, 0, 256));

function flipBit(src: Uint8Array, r: Rand, lo = 0, hi = src.length): Mutant {
  const out = src.slice();
  const at = int(r, lo, hi);
  const bit = int(r, 0, 8);
  out[at] ^= 1 << bit;
  return { kind: '', detail: `bit ${bit} of byte ${at}`, bytes: out };
}

function overwrite(src: Uint8Array, r: Rand, lo: number, hi: number): Mutant {
  const out = src.slice();
  const at = int(r, lo, hi);
  const n = Math.min(int(r, 1, 9), hi - at);
  const run = randomBytes(r, n);
  out.set(run, at);
  return { kind: '', detail: `${n} random bytes at ${at}`, bytes: out };
}

function truncate(src: Uint8Array, r: Rand): Mutant {
  const n = int(r, 0, src.length);
  return { kind: '', detail: `first ${n} of ${src.length} bytes`, bytes: src.slice(0, n) };
}

function insertRun(src: Uint8Array, r: Rand): Mutant {
  const at = int(r, 0, src.length + 1);
  const run = randomBytes(r, int(r, 1, 65));
  const out = new Uint8Array(src.length + run.length);
  out.set(src.subarray(0, at));
  out.set(run, at);
  out.set(src.subarray(at), at + run.length);
  return { kind: '', detail: `${run.length} random bytes inserted at ${at}`, bytes: out };
}

function deleteRun(src: Uint8Array, r: Rand): Mutant {
  const at = int(r, 0, src.length);
  const n = Math.min(int(r, 1, 65), src.length - at);
  const out = new Uint8Array(src.length - n);
  out.set(src.subarray(0, at));
  out.set(src.subarray(at + n), at);
  return { kind: '', detail: `${n} bytes deleted at ${at}`, bytes: out };
}

/** Where the records of a (non-zip64) zip lie, from its end record and central directory. */
export interface ZipLayout {
  eocd: number;
  centralDirectory: Array<{ at: number; length: number; name: string }>;
  entries: Array<{ name: string; localHeader: number; dataStart: number; dataEnd: number }>;
}

export function zipLayout(b: Uint8Array): ZipLayout {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let eocd = b.length - 22;
  while (eocd >= 0 && dv.getUint32(eocd, true) !== 0x06054b50) eocd--;
  if (eocd < 0) throw new Error('zipLayout: no end of central directory record');
  const count = dv.getUint16(eocd + 10, true);
  let at = dv.getUint32(eocd + 16, true);
  const centralDirectory: ZipLayout['centralDirectory'] = [];
  const entries: ZipLayout['entries'] = [];
  for (let i = 0; i < count; i++) {
    const nameLen = dv.getUint16(at + 28, true);
    const length = 46 + nameLen + dv.getUint16(at + 30, true) + dv.getUint16(at + 32, true);
    const name = Buffer.from(b.subarray(at + 46, at + 46 + nameLen)).toString('utf8');
    const size = dv.getUint32(at + 20, true);
    const local = dv.getUint32(at + 42, true);
    const dataStart = local + 30 + dv.getUint16(local + 26, true) + dv.getUint16(local + 28, true);
    centralDirectory.push({ at, length, name });
    entries.push({ name, localHeader: local, dataStart, dataEnd: dataStart + size });
    at += length;
  }
  return { eocd, centralDirectory, entries };
}

const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, 0, xs.length)];

/** A .pth rebuilt from the same tensors with one change, its CRCs valid. */
function rebuiltPth(tensors: ParsedSafetensors, r: Rand, change: 'huge-shape' | 'short-storage'): Mutant {
  const names = [...tensors.tensors.keys()].filter((n) => tensors.tensors.get(n)!.dtype === 'F32');
  const victim = pick(r, names);
  const specs: TensorSpec[] = [];
  const storages: Record<string, Uint8Array> = {};
  let detail = '';
  names.forEach((name, i) => {
    const t = tensors.tensors.get(name)!;
    const key = String(i);
    const numel = t.shape.reduce((a, b) => a * b, 1);
    let shape = t.shape;
    let bytes = t.bytes;
    if (name === victim && change === 'huge-shape') {
      const d = int(r, 0, Math.max(1, shape.length));
      const big = pick(r, [2 ** 31, 2 ** 40, 2 ** 53, 1e6 * (shape[d] ?? 1), 65536]);
      shape = shape.length ? shape.map((v, j) => (j === d ? big : v)) : [big];
      detail = `${name} declared [${shape.join(', ')}] (storage of ${numel})`;
    } else if (name === victim) {
      const cut = int(r, 1, Math.max(2, Math.min(t.bytes.length, 64)));
      bytes = t.bytes.subarray(0, t.bytes.length - cut);
      detail = `storage of ${name} ${cut} bytes short`;
    }
    specs.push({ name, storage: 'FloatStorage', key, numel, shape });
    storages[key] = bytes;
  });
  return { kind: change, detail, bytes: torchZip('archive', stateDictPickle(specs), storages) };
}

const PTH_KINDS = ['bit-flip', 'data-bit-flip', 'truncate', 'insert', 'delete', 'local-header', 'central-directory', 'end-record', 'huge-shape', 'short-storage'] as const;
const SAFETENSORS_KINDS = ['truncate', 'insert', 'delete', 'header-length', 'json-structure', 'shape-digit', 'huge-shape'] as const;

export function mutationKinds(kind: CorpusFile['kind']): readonly string[] {
  return kind === 'pth' ? PTH_KINDS : SAFETENSORS_KINDS;
}

export function mutatePth(src: Uint8Array, tensors: ParsedSafetensors | undefined, kind: string, r: Rand): Mutant {
  const layout = zipLayout(src);
  let m: Mutant;
  switch (kind) {
    case 'bit-flip': m = flipBit(src, r); break;
    case 'data-bit-flip': {
      const e = pick(r, layout.entries.filter((x) => /\/(data\.pkl|data\/\d+)$/.test(x.name) && x.dataEnd > x.dataStart));
      m = flipBit(src, r, e.dataStart, e.dataEnd);
      m.detail += ` (in ${e.name})`;
      break;
    }
    case 'truncate': m = truncate(src, r); break;
    case 'insert': m = insertRun(src, r); break;
    case 'delete': m = deleteRun(src, r); break;
    case 'local-header': {
      const e = pick(r, layout.entries);
      m = overwrite(src, r, e.localHeader, e.dataStart);
      m.detail += ` (local header of ${e.name})`;
      break;
    }
    case 'central-directory': {
      const c = pick(r, layout.centralDirectory);
      m = overwrite(src, r, c.at, c.at + c.length);
      m.detail += ` (central directory record of ${c.name})`;
      break;
    }
    case 'end-record': m = overwrite(src, r, layout.eocd, src.length); break;
    case 'huge-shape':
    case 'short-storage':
      if (!tensors) throw new Error('mutatePth: rebuilt mutants need the tensors');
      return rebuiltPth(tensors, r, kind);
    default: throw new Error(`unknown .pth mutation ${kind}`);
  }
  return { ...m, kind };
}

/** Offsets of the header's structural characters: brackets, colons, commas and string quotes. */
function structuralOffsets(header: string): number[] {
  const out: number[] = [];
  let inString = false;
  for (let i = 0; i < header.length; i++) {
    const c = header[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') { inString = false; out.push(i); }
    } else if (c === '"') { inString = true; out.push(i); } else if ('{}[]:,'.includes(c)) out.push(i);
  }
  return out;
}

export function mutateSafetensors(src: Uint8Array, kind: string, r: Rand): Mutant {
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const headerLen = Number(dv.getBigUint64(0, true));
  // The header is ASCII here (JSON escapes), so string offsets are byte offsets.
  const header = Buffer.from(src.subarray(8, 8 + headerLen)).toString('latin1');
  let m: Mutant;
  switch (kind) {
    case 'truncate': m = truncate(src, r); break;
    case 'insert': m = insertRun(src, r); break;
    case 'delete': m = deleteRun(src, r); break;
    case 'header-length': m = flipBit(src, r, 0, 8); break;
    case 'json-structure': {
      const offs = structuralOffsets(header);
      const at = pick(r, offs);
      const out = src.slice();
      const was = header[at];
      const now = pick(r, [...'{}[]:,"\0'].filter((c) => c !== was));
      out[8 + at] = now.charCodeAt(0);
      m = { kind, detail: `header byte ${at} ${JSON.stringify(was)} -> ${JSON.stringify(now)}`, bytes: out };
      break;
    }
    case 'shape-digit':
    case 'huge-shape': {
      const arrays = [...header.matchAll(/"(shape|data_offsets)":\[([^\]]*)\]/g)]
        .filter((a) => kind === 'shape-digit' || a[1] === 'shape');
      const a = pick(r, arrays);
      const start = a.index! + a[0].indexOf('[') + 1;
      const body = a[2];
      let text: string;
      if (kind === 'shape-digit') {
        const digits = [...body].map((c, i) => (/\d/.test(c) ? i : -1)).filter((i) => i >= 0);
        const i = pick(r, digits);
        const now = pick(r, [...'0123456789'].filter((c) => c !== body[i]));
        text = body.slice(0, i) + now + body.slice(i + 1);
      } else {
        const dims = body.length ? body.split(',') : [];
        const big = pick(r, ['2147483648', '1099511627776', '9007199254740993', '1e300', '-1']);
        const d = int(r, 0, Math.max(1, dims.length));
        text = dims.length ? dims.map((v, j) => (j === d ? big : v)).join(',') : big;
      }
      // A consistent file around the changed header: its length prefix is rewritten to match.
      const newHeader = Buffer.from(header.slice(0, start) + text + header.slice(start + body.length), 'latin1');
      const out = new Uint8Array(8 + newHeader.length + src.length - 8 - headerLen);
      new DataView(out.buffer).setBigUint64(0, BigInt(newHeader.length), true);
      out.set(newHeader, 8);
      out.set(src.subarray(8 + headerLen), 8 + newHeader.length);
      m = { kind, detail: `${a[1]} [${body}] -> [${text}] at header byte ${start}`, bytes: out };
      break;
    }
    default: throw new Error(`unknown safetensors mutation ${kind}`);
  }
  return { ...m, kind };
}

/** The mutant for `seed`: the corpus file and the mutation kind cycle with the seed, the rest is drawn from it. */
export function mutantFor(seed: number, corpus: CorpusFile[], original: (f: CorpusFile) => Uint8Array,
  tensors: (f: CorpusFile) => ParsedSafetensors | undefined): { file: CorpusFile; mutant: Mutant } {
  const file = corpus[seed % corpus.length];
  const kinds = mutationKinds(file.kind);
  // Seeds f, f + n, f + 2n, ... (n files) go through file f's kinds in turn.
  const kind = kinds[Math.floor(seed / corpus.length) % kinds.length];
  const r = rng(seed);
  const src = original(file);
  const mutant = file.kind === 'pth' ? mutatePth(src, tensors(file), kind, r) : mutateSafetensors(src, kind, r);
  return { file, mutant };
}
