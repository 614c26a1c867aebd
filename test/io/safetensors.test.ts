import { readFileSync } from 'fs';
import * as path from 'path';
import { f16ToF32, f32ToF16, bf16ToF32 } from '../../src/io/half';
import { SafetensorsError, entryToFloat32, parseSafetensors, serializeSafetensors } from '../../src/io/safetensors';
import { FIXTURES } from '../helpers';

/** Builds a file by hand: header JSON (any object) + data bytes, with an optional lying length. */
function build(header: unknown, data: Uint8Array, headerLen?: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const f32 = (...v: number[]) => new Uint8Array(new Float32Array(v).buffer);

describe('safetensors reader', () => {
  test('reads a fixture: shapes, dtypes, float16 upcast, metadata', () => {
    const file = path.join(FIXTURES, 'parity/v2-vits-full/weights.safetensors');
    const parsed = parseSafetensors(readFileSync(file), file);
    const qkv = parsed.tensors.get('pretrained.blocks.0.attn.qkv.weight')!;
    expect(qkv.dtype).toBe('F16');
    expect(qkv.shape).toEqual([1152, 384]);
    const values = entryToFloat32(qkv);
    expect(values).toHaveLength(1152 * 384);
    expect(values.every(Number.isFinite)).toBe(true);
    expect(JSON.parse(parsed.metadata.config).encoder).toBe('vits');
  });

  test('round trip F32 and F16 with metadata, data section 8-byte aligned', () => {
    const a = new Float32Array([1, -2.5, 3.25, 65504, 1e-8, 0]);
    const bytes = serializeSafetensors([
      { name: 'a', shape: [2, 3], data: a },
      { name: 'h', shape: [6], data: a, dtype: 'F16' },
      { name: 'empty', shape: [0, 4], data: new Float32Array(0) },
    ], { config: '{"x":1}' });
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLen) % 8).toBe(0);
    const p = parseSafetensors(bytes, 'rt');
    expect(p.metadata).toEqual({ config: '{"x":1}' });
    expect(Array.from(entryToFloat32(p.tensors.get('a')!))).toEqual(Array.from(a));
    const h = entryToFloat32(p.tensors.get('h')!);
    expect(Array.from(h.slice(0, 4))).toEqual([1, -2.5, 3.25, 65504]);
    expect(h[4]).toBe(0); // 1e-8 underflows half precision
    expect(p.tensors.get('empty')!.shape).toEqual([0, 4]);
  });

  test('BF16 and unaligned F32 decode', () => {
    const bf = new Uint8Array(4);
    new DataView(bf.buffer).setUint16(0, 0x3fc0, true); // 1.5
    new DataView(bf.buffer).setUint16(2, 0xc000, true); // -2
    const p = parseSafetensors(build({ b: { dtype: 'BF16', shape: [2], data_offsets: [0, 4] }, f: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array([...bf, ...f32(7.5)])), 'x');
    expect(Array.from(entryToFloat32(p.tensors.get('b')!))).toEqual([1.5, -2]);
    expect(Array.from(entryToFloat32(p.tensors.get('f')!))).toEqual([7.5]);
  });

  const bad: Array<[string, () => Uint8Array, RegExp]> = [
    ['shorter than 8 bytes', () => new Uint8Array(5), /shorter than the 8-byte header length/],
    ['header length past the end', () => build({}, new Uint8Array(0), 1000), /header length 1000 runs past the end of the file/],
    ['absurd header length', () => build({}, new Uint8Array(0), 2 ** 40), /exceeds the .*-byte limit/],
    ['header not JSON', () => { const b = build({ a: 1 }, new Uint8Array(0)); b[8] = 0x7b; b[9] = 0x7b; return b; }, /header is not valid UTF-8 JSON/],
    ['header not an object', () => build([1, 2], new Uint8Array(0)), /header is not a JSON object/],
    ['unknown dtype', () => build({ t: { dtype: 'F8', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /tensor "t" has unknown dtype "F8"/],
    ['bad shape', () => build({ t: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, f32(1)), /tensor "t" has an invalid shape \[-1\]/],
    ['offsets past the data', () => build({ t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, f32(1)), /data_offsets \[0, 8\] run past the data section \(4 bytes\)/],
    ['shape x dtype != byte length', () => build({ t: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32(1, 2)), /is F32 \[3\] = 12 bytes, but data_offsets span 8/],
    ['reversed offsets', () => build({ t: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, f32(1)), /invalid data_offsets \[4,0\]/],
    ['overlapping tensors', () => build({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32(1, 2)), /overlaps the previous tensor/],
    ['bytes that belong to no tensor', () => build({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32(1, 2)), /bytes \[0, 4\) before tensor "a" belong to no tensor/],
    ['trailing bytes', () => build({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32(1, 2)), /data section is 8 bytes but tensors cover 4/],
    ['non-string metadata', () => build({ __metadata__: { n: 1 } }, new Uint8Array(0)), /__metadata__.n is not a string/],
  ];
  test.each(bad)('refuses a file with %s, naming the file', (_what, make, message) => {
    let err: unknown;
    try {
      parseSafetensors(make(), 'weights/bad.safetensors');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SafetensorsError);
    expect((err as Error).message).toMatch(/^weights\/bad\.safetensors: not a valid safetensors file: /);
    expect((err as Error).message).toMatch(message);
  });

  test('integer tensors are refused as weights with the dtype named', () => {
    const p = parseSafetensors(build({ n: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)), 'x.safetensors');
    expect(() => entryToFloat32(p.tensors.get('n')!, 'x.safetensors')).toThrow('tensor "n" has dtype I64; a floating-point dtype');
  });
});

describe('half precision', () => {
  test('f16 <-> f32 is exact for every half value (round trip of all 65536 bit patterns)', () => {
    for (let h = 0; h < 0x10000; h++) {
      const v = f16ToF32(h);
      if (Number.isNaN(v)) { expect((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0).toBe(true); continue; }
      expect(f32ToF16(v)).toBe(h);
    }
  });
  test('f32 -> f16 rounds to nearest even, overflows to infinity, keeps subnormals', () => {
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00); // halfway: ties to even (down)
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02); // halfway: ties to even (up)
    expect(f32ToF16(65520)).toBe(0x7c00);
    expect(f32ToF16(2 ** -24)).toBe(0x0001);
    expect(f32ToF16(-0)).toBe(0x8000);
    expect(bf16ToF32(0x3f80)).toBe(1);
  });
});
