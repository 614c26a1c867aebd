/** Our safetensors written to disk (the `convert` command, for depth and segmentation weights). */
import { encodeTensorData, safetensorsHeader } from '../io/safetensors';
import type { StateDict } from '../weights/state_dict';
import { writeAtomically } from './atomic';

export type OutDtype = 'f32' | 'f16';

/**
 * Streams a safetensors file (same header layout as `serializeSafetensors`: JSON padded with
 * spaces to 8-byte alignment) to a temporary file beside `target`, then renames it. Streaming
 * rather than serialising to one buffer keeps a 1.3 GB model from being held twice.
 */
export async function writeSafetensorsFile(target: string, sd: StateDict, metadata: Record<string, string>, dtype: OutDtype): Promise<number> {
  const st = dtype === 'f16' ? 'F16' : 'F32';
  const { bytes: head, dataBytes } = safetensorsHeader([...sd].map(([name, t]) => ({ name, shape: t.shape, dtype: st })), metadata);

  try {
    await writeAtomically(target, async (fh) => {
      await fh.write(head);
      for (const [, t] of sd) await fh.write(encodeTensorData(t.data, st));
    });
  } catch (e) {
    throw new Error(`cannot write ${target}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return head.length + dataBytes;
}
