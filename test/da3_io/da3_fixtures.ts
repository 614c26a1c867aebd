/** The two visible DA3 fixture cases as the pipeline tests read them (no network involved). */
import { readFileSync } from 'fs';
import * as path from 'path';
import { SafetensorsEntry, parseSafetensors, entryToFloat32 } from '../../src/io/safetensors';

export const DA3_DIR = path.resolve(__dirname, '../../../shared/fixtures/da3');
/** The visible cases, named directly (test/fixture_cases.ts is the model helper's to extend). */
export const DA3_IO_CASES = ['da3-tiny-anyview', 'da3-tiny-mono'] as const;
export type Da3IoCase = (typeof DA3_IO_CASES)[number];

export interface Da3Case {
  name: Da3IoCase;
  dir: string;
  config: {
    inference: { process_res: number; process_res_method: string; images: string[] };
    extra: { input_extrinsics_w2c?: number[][][]; input_intrinsics?: number[][][] };
    processed_hw: [number, number];
  };
  acts: Map<string, SafetensorsEntry>;
  exp: Map<string, SafetensorsEntry> | null;
}

const cache = new Map<string, Da3Case>();

export function loadDa3Case(name: Da3IoCase): Da3Case {
  const hit = cache.get(name);
  if (hit) return hit;
  const dir = path.join(DA3_DIR, name);
  const read = (f: string) => parseSafetensors(new Uint8Array(readFileSync(path.join(dir, f))), `${name}/${f}`).tensors;
  const expFile = path.join(dir, 'export.safetensors');
  const c: Da3Case = {
    name, dir,
    config: JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')),
    acts: read('activations.safetensors'),
    exp: require('fs').existsSync(expFile) ? read('export.safetensors') : null,
  };
  cache.set(name, c);
  return c;
}

export function f32(t: Map<string, SafetensorsEntry>, key: string): Float32Array {
  const e = t.get(key);
  if (!e) throw new Error(`fixture has no tensor ${key}`);
  return entryToFloat32(e);
}

export function f64(t: Map<string, SafetensorsEntry>, key: string): Float64Array {
  const e = t.get(key);
  if (!e || e.dtype !== 'F64') throw new Error(`fixture has no float64 tensor ${key}`);
  return new Float64Array(e.bytes.buffer.slice(e.bytes.byteOffset, e.bytes.byteOffset + e.bytes.byteLength));
}

export function u8(t: Map<string, SafetensorsEntry>, key: string): Uint8Array {
  const e = t.get(key);
  if (!e || e.dtype !== 'U8') throw new Error(`fixture has no uint8 tensor ${key}`);
  return e.bytes;
}

/** Number of positions where two byte arrays differ (lengths must match). */
export function countDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let n = 0;
  for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) n++;
  return n;
}
