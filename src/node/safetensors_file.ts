/** Our safetensors written to disk (the `convert` command, for depth and segmentation weights). */
import { encodeTensorData, safetensorsHeader } from '../io/safetensors';
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
