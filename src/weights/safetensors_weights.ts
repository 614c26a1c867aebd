/**
 * A parsed safetensors file as a StateDict and the configuration it records. Pure (no file
 * access): shared by the Node loader (load.ts) and the browser's.
 */
import { ModelConfig, configFromJson } from '../config/depth';
import { ParsedSafetensors, entryToFloat32 } from '../io/safetensors';
import { LITTLE_ENDIAN } from '../io/half';
import { Q8_SCALE_SUFFIX, dequantizeQ8 } from './q8';
import { RawTensor, StateDict, WeightsError } from './state_dict';

/**
 * Float32 tensors become views into the file's bytes when aligned (no second copy of the model);
 * others are decoded. Integer tensors (BatchNorm's num_batches_tracked) are left out. int8
 * kernels (`convert --dtype q8`) are dequantised with their `<key>_scale`, which is consumed.
 */
export function stateDictFromSafetensors(parsed: ParsedSafetensors): StateDict {
  const sd: StateDict = new Map();
  const scales = new Set<string>();
  for (const [name, entry] of parsed.tensors) {
    // num_batches_tracked (I64) is bookkeeping that inference never reads.
    if (entry.dtype === 'I64' || entry.dtype === 'I32') continue;
    if (entry.dtype === 'I8') {
      const scale = parsed.tensors.get(name + Q8_SCALE_SUFFIX);
      if (!scale) throw new WeightsError(`${parsed.source}: tensor "${name}" is int8 but the file has no "${name + Q8_SCALE_SUFFIX}" (an 8-bit kernel needs its per-channel scales)`);
      const q = new Int8Array(entry.bytes.buffer, entry.bytes.byteOffset, entry.bytes.byteLength);
      const data = dequantizeQ8(q, entry.shape, entryToFloat32(scale, parsed.source), scale.shape, `${parsed.source}: "${name + Q8_SCALE_SUFFIX}"`);
      sd.set(name, { shape: entry.shape, data, storedAs: 'int8' });
      scales.add(name + Q8_SCALE_SUFFIX);
      continue;
    }
    const toFloat32 = (bytes: Uint8Array): Float32Array => (entry.dtype === 'F32' && LITTLE_ENDIAN && bytes.byteOffset % 4 === 0
      ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
      : entryToFloat32({ name: entry.name, dtype: entry.dtype, shape: entry.shape, bytes }, parsed.source));
    if (entry.readOnAccess) sd.set(name, readOnAccess(entry.shape, () => toFloat32(entry.bytes)));
    else sd.set(name, { shape: entry.shape, data: toFloat32(entry.bytes) });
  }
  for (const s of scales) sd.delete(s);
  return sd;
}

export function configFromMetadata(parsed: ParsedSafetensors): ModelConfig | undefined {
  const raw = parsed.metadata.config;
  if (raw === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (e) {
    throw new WeightsError(`${parsed.source}: __metadata__.config is not valid JSON (${(e as Error).message})`);
  }
  return configFromJson(json, `${parsed.source} (__metadata__.config)`);
}

/**
 * A tensor whose `data` is read from its file on each access and held by no one: binding copies
 * each into the backend and drops it, so a model is never in memory twice (V2-L: 1.25 GiB of
 * JavaScript arrays beside 1.3 GiB of wasm heap at the end of binding). Assigning `data` fixes it.
 */
function readOnAccess(shape: number[], read: () => Float32Array): RawTensor {
  const t = { shape } as RawTensor;
  Object.defineProperty(t, 'data', {
    enumerable: true,
    configurable: true,
    get: read,
    set(v: Float32Array) { Object.defineProperty(t, 'data', { value: v, writable: true, enumerable: true, configurable: true }); },
  });
  return t;
}
