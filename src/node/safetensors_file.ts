/**
 * Safetensors files on disk: read tensor by tensor (the loaders), and ours written (the `convert`
 * command, for depth and segmentation weights).
 */
import { closeSync, openSync, promises as fs, readSync } from 'fs';
import { ParsedSafetensors, SafetensorsEntry, encodeTensorData, parseSafetensorsLayout, safetensorsHeaderLength, safetensorsHeader } from '../io/safetensors';
import { WeightsError } from '../weights/state_dict';
import { Q8_METADATA, q8Entries } from '../weights/q8';
import type { StateDict } from '../weights/state_dict';
import { writeAtomically } from './atomic';

/** Stored dtype: float32, float16, or int8 kernels with float32 scales (src/weights/q8.ts; norms and biases stay float32). */
export type OutDtype = 'f32' | 'f16' | 'q8';

/**
 * Streams a safetensors file (same header layout as `serializeSafetensors`: JSON padded with
 * spaces to 8-byte alignment) to a temporary file beside `target`, then renames it. Streaming
 * rather than serialising to one buffer keeps a 1.3 GB model from being held twice.
 */
export async function writeSafetensorsFile(target: string, sd: StateDict, metadata: Record<string, string>, dtype: OutDtype): Promise<number> {
  const st: 'F32' | 'F16' = dtype === 'f16' ? 'F16' : 'F32';
  const entries = dtype === 'q8'
    ? q8Entries(sd).map((e) => ({ name: e.name, shape: e.shape, dtype: e.kind === 'int8' ? 'I8' as const : 'F32' as const, bytes: () => (e.kind === 'int8' ? new Uint8Array(e.data.buffer, e.data.byteOffset, e.data.byteLength) : encodeTensorData(e.data, 'F32')) }))
    : [...sd].map(([name, t]) => ({ name, shape: t.shape, dtype: st, bytes: () => encodeTensorData(t.data, st) }));
  const meta = dtype === 'q8' ? { ...metadata, quantization: Q8_METADATA } : metadata;
  const { bytes: head, dataBytes } = safetensorsHeader(entries, meta);

  try {
    await writeAtomically(target, async (fh) => {
      await fh.write(head);
      for (const e of entries) await fh.write(e.bytes());
    });
  } catch (e) {
    throw new Error(`cannot write ${target}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return head.length + dataBytes;
}

/**
 * `lazy`: the entries' bytes are read (synchronously) on each access and not kept: a model bound
 * from them is never held whole in JavaScript (see `readOnAccess` in src/weights/safetensors_weights.ts).
 * The header is read and checked against the file's size now, as in the eager read.
 */
function lazyEntries(file: string, layout: ReturnType<typeof parseSafetensorsLayout>): ParsedSafetensors {
  const readSpan = (name: string, at: number, n: number): Uint8Array => {
    const buf = new Uint8Array(n);
    let fd: number;
    try { fd = openSync(file, 'r'); } catch (e) { throw ioError(file, e); }
    try {
      for (let got = 0; got < n;) {
        let r: number;
        try { r = readSync(fd, buf, got, n - got, at + got); } catch (e) { throw ioError(file, e); }
        if (r === 0) throw new WeightsError(`${file}: truncated: tensor "${name}" ends at byte ${at + n}, but the file ends at byte ${at + got}`);
        got += r;
      }
    } finally {
      closeSync(fd);
    }
    return buf;
  };
  const tensors = new Map<string, SafetensorsEntry>();
  for (const s of layout.spans) {
    const entry = { name: s.name, dtype: s.dtype, shape: s.shape, readOnAccess: true } as SafetensorsEntry;
    Object.defineProperty(entry, 'bytes', { enumerable: true, get: () => readSpan(s.name, layout.dataStart + s.begin, s.end - s.begin) });
    tensors.set(s.name, entry);
  }
  return { source: file, metadata: layout.metadata, tensors };
}

const ioError = (file: string, e: unknown): WeightsError => new WeightsError(`cannot read weights file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);

/**
 * A safetensors file read tensor by tensor: the header validated against the file's size, then
 * each tensor's bytes into a buffer of its own (aligned, so float32 tensors are used in place).
 * Unlike one buffer of the whole file, a tensor's memory can be collected as soon as nothing
 * holds it, and nothing but the tensors is ever held. The same entries as `parseSafetensors`.
 */
export async function readSafetensorsFile(file: string, opts: { lazy?: boolean } = {}): Promise<ParsedSafetensors> {
  let fh: fs.FileHandle;
  try { fh = await fs.open(file, 'r'); } catch (e) { throw ioError(file, e); }
  try {
    const read = async (n: number, at: number, what: string): Promise<Uint8Array> => {
      const buf = new Uint8Array(n);
      let got = 0;
      while (got < n) {
        let r: number;
        try { r = (await fh.read(buf, got, n - got, at + got)).bytesRead; } catch (e) { throw ioError(file, e); }
        if (r === 0) throw new WeightsError(`${file}: truncated: ${what} ends at byte ${at + n}, but the file ends at byte ${at + got}`);
        got += r;
      }
      return buf;
    };
    let size: number;
    try { size = (await fh.stat()).size; } catch (e) { throw ioError(file, e); }
    const first8 = await read(Math.min(8, size), 0, 'the header length');
    const headerLen = safetensorsHeaderLength(first8, size, file);
    const layout = parseSafetensorsLayout(await read(8 + headerLen, 0, 'the header'), size, file);
    if (opts.lazy) return lazyEntries(file, layout);
    const tensors = new Map<string, SafetensorsEntry>();
    // In file order: sequential reads.
    for (const s of [...layout.spans].sort((a, b) => a.begin - b.begin)) {
      const bytes = await read(s.end - s.begin, layout.dataStart + s.begin, `tensor "${s.name}"`);
      tensors.set(s.name, { name: s.name, dtype: s.dtype, shape: s.shape, bytes });
    }
    // Header order, as parseSafetensors gives them.
    return { source: file, metadata: layout.metadata, tensors: new Map(layout.spans.map((s) => [s.name, tensors.get(s.name)!])) };
  } finally {
    await fh.close().catch(() => undefined);
  }
}
