/**
 * The Node loader reads safetensors tensor by tensor (src/node/safetensors_file.ts): the same
 * entries, byte for byte, as the whole-file parser, for float32, float16 and q8 files; a truncated
 * file is refused naming the file and the tensor it cuts. Read on access (`readOnAccess`, what
 * `DepthAnything.load` binds from): the same state dict, each tensor read from the file anew.
 */
import * as os from 'os';
import * as path from 'path';
import { promises as fs } from 'fs';
import { parseSafetensors } from '../../src/io/safetensors';
import { OutDtype, readSafetensorsFile, writeSafetensorsFile } from '../../src/node/safetensors_file';
import { loadWeightsFile } from '../../src/node/weights_file';

const WEIGHTS = path.resolve(__dirname, '../../../shared/fixtures/parity/v2-tiny/weights.safetensors');
let dir: string;
beforeAll(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'streamed-')); });
afterAll(async () => { await fs.rm(dir, { recursive: true, force: true }); });

test.each(['f32', 'f16', 'q8'] as OutDtype[])('%s: every tensor as the whole-file parser gives it, and the same state dict', async (dtype) => {
  const file = path.join(dir, `${dtype}.safetensors`);
  const { stateDict } = await loadWeightsFile(WEIGHTS);
  await writeSafetensorsFile(file, stateDict, { format: 'official' }, dtype);
  const whole = parseSafetensors(await fs.readFile(file), file);
  const streamed = await readSafetensorsFile(file);
  expect(streamed.metadata).toEqual(whole.metadata);
  expect([...streamed.tensors.keys()]).toEqual([...whole.tensors.keys()]);
  for (const [k, e] of whole.tensors) {
    const s = streamed.tensors.get(k)!;
    expect([s.dtype, s.shape]).toEqual([e.dtype, e.shape]);
    expect(Buffer.from(s.bytes).equals(Buffer.from(e.bytes))).toBe(true);
    expect(s.bytes.byteOffset % 8).toBe(0); // aligned: float32 data is used in place
  }
  if (dtype === 'f32') {
    const again = (await loadWeightsFile(file)).stateDict;
    for (const [k, t] of stateDict) expect(Buffer.from(again.get(k)!.data.buffer, again.get(k)!.data.byteOffset, again.get(k)!.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))).toBe(true);
  }
});

test.each(['f32', 'f16'] as OutDtype[])('%s, read on access: the same state dict, each tensor read anew and held by no one', async (dtype) => {
  const file = path.join(dir, `lazy-${dtype}.safetensors`);
  const { stateDict } = await loadWeightsFile(WEIGHTS);
  await writeSafetensorsFile(file, stateDict, { format: 'official' }, dtype);
  const eager = (await loadWeightsFile(file)).stateDict;
  const lazy = (await loadWeightsFile(file, { readOnAccess: true })).stateDict;
  expect([...lazy.keys()]).toEqual([...eager.keys()]);
  for (const [k, t] of eager) {
    const l = lazy.get(k)!;
    expect(l.shape).toEqual(t.shape);
    expect(Buffer.from(l.data.buffer, l.data.byteOffset, l.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))).toBe(true);
    expect(l.data).not.toBe(l.data); // read on each access: nothing keeps the tensor in memory
  }
  const [k0] = lazy.keys();
  const fixed = new Float32Array(lazy.get(k0)!.data.length).fill(1);
  lazy.get(k0)!.data = fixed; // assigning data fixes it, as for a plain tensor
  expect(lazy.get(k0)!.data).toBe(fixed);
});

test('a truncated file is refused naming the file and the tensor it cuts', async () => {
  const bytes = await fs.readFile(WEIGHTS);
  const whole = parseSafetensors(bytes, WEIGHTS);
  const last = [...whole.tensors.values()].reduce((a, e) => (e.bytes.byteOffset > a.bytes.byteOffset ? e : a));
  const file = path.join(dir, 'cut.safetensors');
  await fs.writeFile(file, bytes.subarray(0, bytes.length - 2)); // cuts the last tensor only
  await expect(readSafetensorsFile(file)).rejects.toThrow(`${file}: not a valid safetensors file: tensor "${last.name}" data_offsets`);
  await expect(loadWeightsFile(file)).rejects.toThrow(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: .*tensor "${last.name.replace(/\./g, '\\.')}"`));
});
