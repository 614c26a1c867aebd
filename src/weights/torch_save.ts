/**
 * A state dict written as `torch.save(model.state_dict(), f)` writes it (the zip format of
 * PyTorch >= 1.6), so `torch.load` + `load_state_dict(strict=True)` on the official module reads
 * it: `archive/data.pkl` (pickle protocol 2) is an OrderedDict of
 * `torch._utils._rebuild_tensor_v2(<storage>, 0, size, stride, False, OrderedDict())`, each
 * storage the persistent id `('storage', torch.FloatStorage, '<key>', 'cpu', numel)` whose bytes are
 * the stored entry `archive/data/<key>` (float32, little-endian, 64-byte aligned); then
 * `archive/byteorder` ("little") and `archive/version` ("3"). Only the globals our reader
 * (torch_zip.ts) and `torch.load(weights_only=True)` allow are named.
 */
import { LITTLE_ENDIAN } from '../io/half';
import { PickleWriter } from '../io/pickle_write';
import { StoredZipWriter, ZipSink } from '../io/zip_write';
import { StateDict } from './state_dict';

/** Row-major strides of a shape, as a contiguous torch tensor has. */
export const contiguousStrides = (shape: readonly number[]): number[] => {
  const s = new Array<number>(shape.length);
  for (let i = shape.length - 1, acc = 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
  return s;
};

/** data.pkl for a state dict whose i-th tensor lives in storage `String(i)`. */
export function statePickle(sd: StateDict): Uint8Array {
  const p = new PickleWriter().proto();
  p.global('collections', 'OrderedDict').emptyTuple().reduce();
  let i = 0;
  for (const [name, t] of sd) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    p.str(name);
    p.global('torch._utils', '_rebuild_tensor_v2').mark();
    p.mark().str('storage').global('torch', 'FloatStorage').str(String(i++)).str('cpu').int(numel).tuple().binPersId();
    p.int(0).intTuple(t.shape).intTuple(contiguousStrides(t.shape)).bool(false);
    p.global('collections', 'OrderedDict').emptyTuple().reduce();
    p.tuple().reduce().setItem();
  }
  return p.stop().result();
}

/** A tensor's float32 bytes, little-endian, without a copy where the host allows it. */
function floatBytes(data: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.length * 4);
  const dv = new DataView(out.buffer);
  data.forEach((v, i) => dv.setFloat32(i * 4, v, true));
  return out;
}

/**
 * Writes `sd` (official names, float32) in torch.save's format to `sink`; `source` names the file
 * in errors. The folder inside the zip is `archive`, as torch.save names it.
 */
export async function writeTorchCheckpoint(sink: ZipSink, sd: StateDict, source: string, crc32?: (data: Uint8Array, value?: number) => number): Promise<void> {
  for (const [name, t] of sd) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== numel) throw new Error(`${source}: tensor ${name} has ${t.data.length} values, its shape [${t.shape.join(', ')}] needs ${numel}`);
  }
  const zip = new StoredZipWriter(sink, source, crc32);
  await zip.add('archive/data.pkl', [statePickle(sd)]);
  await zip.add('archive/byteorder', [new TextEncoder().encode('little')]);
  let i = 0;
  for (const [, t] of sd) await zip.add(`archive/data/${i++}`, [floatBytes(t.data)]);
  await zip.add('archive/version', [new TextEncoder().encode('3\n')]);
  await zip.finish();
}
