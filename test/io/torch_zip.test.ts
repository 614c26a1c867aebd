import * as os from 'os';
import * as path from 'path';
import { promises as fs } from 'fs';
import { readTorchCheckpoint } from '../../src/weights/torch_zip';
import { loadWeightsFile } from '../../src/node/weights_file';
import { f32ToF16 } from '../../src/io/half';
import { PickleWriter, buildZip, f32Bytes, stateDictPickle, torchZip, writeFile } from './torch_writer';
import { crc32 as zlibCrc32, deflateRawSync } from 'zlib';
import { crc32, crc32Table } from '../../src/io/zip';
import { main } from '../../src/cli/main';
import { ZipLayout, zipLayout } from '../fuzz/mutants';

const FIXTURES = path.resolve(__dirname, '../../../shared/fixtures/parity');
let dir: string;
beforeAll(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'torch-zip-')); });
afterAll(async () => { await fs.rm(dir, { recursive: true, force: true }); });

const tmp = (name: string) => path.join(dir, name);
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('readTorchCheckpoint on the fixtures (files written by torch.save)', () => {
  it.each(['v2-tiny', 'v1-tiny', 'v2-tiny-metric', 'v2-tiny-giantlike'])('%s: every tensor equals weights.safetensors exactly', async (c) => {
    const ckpt = await readTorchCheckpoint(path.join(FIXTURES, c, 'weights.pth'));
    const ref = await loadWeightsFile(path.join(FIXTURES, c, 'weights.safetensors'));
    expect([...ckpt.stateDict.keys()].sort()).toEqual([...ref.stateDict.keys()].sort());
    for (const [k, t] of ref.stateDict) {
      const got = ckpt.stateDict.get(k)!;
      expect(got.shape).toEqual(t.shape);
      expect(Buffer.from(got.data.buffer, got.data.byteOffset, got.data.byteLength)
        .equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))).toBe(true);
    }
    expect([...ckpt.dtypes]).toEqual(['float32']);
    // BatchNorm's int64 num_batches_tracked are left out on purpose.
    expect(ckpt.skipped.length).toBe(c === 'v2-tiny-giantlike' ? 16 : 0);
    expect(ckpt.skipped.every((k) => k.endsWith('num_batches_tracked'))).toBe(true);
  });
});

describe('readTorchCheckpoint on hand-built checkpoints', () => {
  const values = Float32Array.from({ length: 24 }, (_, i) => i * 0.5 - 3);

  it('rebuilds tensors from storage offset and strides (views, transposes, shared storage)', async () => {
    const pkl = stateDictPickle([
      { name: 'full', storage: 'FloatStorage', key: '0', numel: 24, shape: [4, 6] },
      // rows 1..2 of the same storage
      { name: 'rows', storage: 'FloatStorage', key: '0', numel: 24, offset: 6, shape: [2, 6] },
      // the transpose: shape [6, 4], strides [1, 6]
      { name: 'transposed', storage: 'FloatStorage', key: '0', numel: 24, shape: [6, 4], stride: [1, 6], parameter: true },
      { name: 'scalar', storage: 'FloatStorage', key: '0', numel: 24, offset: 23, shape: [] },
    ]);
    const file = await writeFile(tmp('views.pth'), torchZip('any_folder_name', pkl, { 0: f32Bytes(values) }));
    const sd = (await readTorchCheckpoint(file)).stateDict;
    expect([...sd.get('full')!.data]).toEqual([...values]);
    expect([...sd.get('rows')!.data]).toEqual([...values.slice(6, 18)]);
    const t = sd.get('transposed')!;
    expect(t.shape).toEqual([6, 4]);
    for (let i = 0; i < 6; i++) for (let j = 0; j < 4; j++) expect(t.data[i * 4 + j]).toBe(values[j * 6 + i]);
    expect(sd.get('scalar')!.shape).toEqual([]);
    expect([...sd.get('scalar')!.data]).toEqual([values[23]]);
  });

  it('decodes float16 and bfloat16 storages to float32', async () => {
    const vals = [1.5, -2.25, 65504, 0.0001];
    const half = new Uint16Array(vals.map(f32ToF16));
    const f32 = new Float32Array(vals);
    const bf = new Uint16Array(new Uint32Array(f32.buffer).map((u) => u >>> 16)); // truncation: exact for these values' top bits
    const pkl = stateDictPickle([
      { name: 'h', storage: 'HalfStorage', key: '0', numel: 4, shape: [4] },
      { name: 'b', storage: 'BFloat16Storage', key: '1', numel: 4, shape: [2, 2] },
    ]);
    const file = await writeFile(tmp('half.pth'), torchZip('archive', pkl, { 0: new Uint8Array(half.buffer), 1: new Uint8Array(bf.buffer) }));
    const ckpt = await readTorchCheckpoint(file);
    expect([...ckpt.stateDict.get('h')!.data]).toEqual([1.5, -2.25, 65504, Math.fround(0.0001000165939331054688)]);
    const bfExpect = [...new Float32Array(new Uint32Array([...bf].map((u) => u << 16)).buffer)];
    expect([...ckpt.stateDict.get('b')!.data]).toEqual(bfExpect);
    expect([...ckpt.dtypes].sort()).toEqual(['bfloat16', 'float16']);
  });

  it.each([['model', ''], ['state_dict', 'module.'], [undefined, 'module.']])('unwraps wrapper %s, key prefix "%s"', async (wrap, prefix) => {
    const pkl = stateDictPickle([{ name: 'a.weight', storage: 'FloatStorage', key: '0', numel: 2, shape: [2] }], { wrap, prefix });
    const file = await writeFile(tmp(`wrap-${wrap}.pth`), torchZip('w', pkl, { 0: f32Bytes([1, 2]) }));
    const sd = (await readTorchCheckpoint(file)).stateDict;
    expect([...sd.keys()]).toEqual(['a.weight']);
    expect([...sd.get('a.weight')!.data]).toEqual([1, 2]);
  });

  it('reads a zip64 archive', async () => {
    const pkl = stateDictPickle([{ name: 'x', storage: 'FloatStorage', key: '0', numel: 3, shape: [3] }]);
    const file = await writeFile(tmp('z64.pth'), torchZip('z', pkl, { 0: f32Bytes([4, 5, 6]) }, { zip64: true }));
    expect([...(await readTorchCheckpoint(file)).stateDict.get('x')!.data]).toEqual([4, 5, 6]);
  });
});

describe('readTorchCheckpoint refuses bad checkpoints with a message naming the file', () => {
  const build = async (name: string, pkl: Uint8Array, storages: Record<string, Uint8Array> = { 0: f32Bytes([1, 2, 3, 4]) }) =>
    writeFile(tmp(name), torchZip('bad', pkl, storages));

  it('a pickle naming a forbidden global (os.system)', async () => {
    const pkl = new PickleWriter().proto(2).global('os', 'system').str('echo pwned').op(0x85).reduce().stop().bytes();
    const file = await build('evil.pth', pkl);
    await expect(readTorchCheckpoint(file)).rejects.toThrow(`${file} (bad/data.pkl): refusing to load: the pickle names the global os.system`);
  });

  it('an unknown storage type', async () => {
    const pkl = stateDictPickle([{ name: 'x', storage: 'ComplexDoubleStorage', key: '0', numel: 4, shape: [4] }]);
    const file = await build('complex.pth', pkl);
    await expect(readTorchCheckpoint(file)).rejects.toThrow(/complex\.pth \(bad\/data\.pkl\): unknown storage type torch\.ComplexDoubleStorage: only torch\.FloatStorage, torch\.HalfStorage/);
  });

  it('tensor data out of range of its storage', async () => {
    const pkl = stateDictPickle([{ name: 'blocks.0.w', storage: 'FloatStorage', key: '0', numel: 4, offset: 2, shape: [2, 2] }]);
    const file = await build('range.pth', pkl);
    await expect(readTorchCheckpoint(file)).rejects.toThrow(`${file}: tensor "blocks.0.w" [2, 2] at offset 2 with strides [2, 1] reaches element 5, past the end of its storage data/0 (4 elements)`);
  });

  it('a storage entry whose size disagrees with the pickle', async () => {
    const pkl = stateDictPickle([{ name: 'x', storage: 'FloatStorage', key: '0', numel: 8, shape: [8] }]);
    const file = await build('short.pth', pkl);
    await expect(readTorchCheckpoint(file)).rejects.toThrow(`${file}: storage bad/data/0 is 16 bytes, but the pickle declares 8 float32 elements (32 bytes)`);
  });

  it('a storage the zip lacks', async () => {
    const pkl = stateDictPickle([{ name: 'x', storage: 'FloatStorage', key: '7', numel: 4, shape: [4] }]);
    const file = await build('missing.pth', pkl);
    await expect(readTorchCheckpoint(file)).rejects.toThrow(`${file}: tensor "x" refers to storage bad/data/7, which the zip lacks`);
  });

  it('an int64 tensor that is not num_batches_tracked', async () => {
    const pkl = stateDictPickle([{ name: 'ids', storage: 'LongStorage', key: '0', numel: 2, shape: [2] }]);
    const file = await build('long.pth', pkl, { 0: new Uint8Array(16) });
    await expect(readTorchCheckpoint(file)).rejects.toThrow(`${file}: tensor "ids" is int64 (torch.LongStorage); only floating-point weights are expected`);
  });

  it('a zip without data.pkl', async () => {
    const file = await writeFile(tmp('nopkl.pth'), buildZip([{ name: 'x/readme.txt', data: Buffer.from('hi') }]));
    await expect(readTorchCheckpoint(file)).rejects.toThrow(`${file}: expected one <folder>/data.pkl in the zip, found none (not a torch.save checkpoint?)`);
  });

  it('an empty data.pkl', async () => {
    const file = await build('emptypkl.pth', new Uint8Array(0));
    await expect(readTorchCheckpoint(file)).rejects.toThrow(`${file} (bad/data.pkl): pickle byte 0: needs 1 more bytes`);
  });

  it('a truncated zip', async () => {
    const good = await fs.readFile(path.join(FIXTURES, 'v2-tiny', 'weights.pth'));
    const file = await writeFile(tmp('truncated.pth'), good.subarray(0, Math.floor(good.length * 0.6)));
    await expect(readTorchCheckpoint(file)).rejects.toThrow(new RegExp(`^${file.replace(/[.]/g, '\\.')}: not a readable zip archive \\(.*truncated or not a \\.pth file\\?\\)`));
  });

  it('a file that is not a zip', async () => {
    const file = await writeFile(tmp('text.pth'), Buffer.from('hello, this is not a checkpoint\n'.repeat(10)));
    await expect(readTorchCheckpoint(file)).rejects.toThrow(`${file}: not a readable zip archive`);
  });
});

describe('readTorchCheckpoint verifies every entry it reads', () => {
  const fixture = path.join(FIXTURES, 'v2-tiny', 'weights.pth');
  let good: Uint8Array;
  let layout: ZipLayout;
  beforeAll(async () => {
    good = new Uint8Array(await fs.readFile(fixture));
    layout = zipLayout(good);
  });
  const entry = (name: string) => layout.entries.find((e) => e.name === name)!;
  const damaged = async (name: string, at: number, mask = 0x10) => {
    const bytes = good.slice();
    bytes[at] ^= mask;
    return writeFile(tmp(name), bytes);
  };
  const recorded = (name: string) => crc32(good.subarray(entry(name).dataStart, entry(name).dataEnd));

  it('a flipped bit in a storage: the CRC-32 names the entry and its tensor, and convert writes nothing', async () => {
    const e = entry('weights/data/1');
    const file = await damaged('crc-storage.pth', e.dataStart + 1000);
    const bytes = new Uint8Array(await fs.readFile(file));
    const now = crc32(bytes.subarray(e.dataStart, e.dataEnd));
    const hex = (v: number) => `0x${v.toString(16).padStart(8, '0')}`;
    const msg = `${file}: zip entry "weights/data/1" (storage of pretrained.pos_embed) is damaged: its bytes have CRC-32 ${hex(now)}, ` +
      `the zip records ${hex(recorded('weights/data/1'))} (corrupted in transit or on disk? get the file again)`;
    await expect(readTorchCheckpoint(file)).rejects.toThrow(msg);
    const out = tmp('crc-storage.safetensors');
    await expect(main(['node', 'depth-anything', 'convert', file, out, '--config', path.join(FIXTURES, 'v2-tiny', 'config.json')])).rejects.toThrow(msg);
    await expect(fs.access(out)).rejects.toThrow();
    expect((await fs.readdir(dir)).filter((f) => f.includes('crc-storage.safetensors'))).toEqual([]);
  });

  it('a flipped bit in data.pkl', async () => {
    const file = await damaged('crc-pkl.pth', entry('weights/data.pkl').dataStart + 200);
    await expect(readTorchCheckpoint(file)).rejects.toThrow(new RegExp(`^${esc(file)}: zip entry "weights/data\\.pkl" \\(the pickled state dict\\) is damaged: its bytes have CRC-32 0x[0-9a-f]{8}, the zip records 0x[0-9a-f]{8} `));
  });

  it('a local header whose name differs from the central directory', async () => {
    const e = entry('weights/data/0');
    const file = await damaged('local-name.pth', e.localHeader + 30 + 'weights/d'.length, 0x03); // data -> dbta
    await expect(readTorchCheckpoint(file)).rejects.toThrow(`${file}: zip entry "weights/data/0" (storage of pretrained.cls_token) is damaged: its local header records the name "weights/dbta/0", the central directory "weights/data/0"`);
  });

  it('a data descriptor (after the data, as torch.save writes) that disagrees with the central directory', async () => {
    const e = entry('weights/data/0');
    const file = await damaged('descriptor.pth', e.dataEnd + 4 + 1); // signature, then the CRC-32
    await expect(readTorchCheckpoint(file)).rejects.toThrow(new RegExp(`^${esc(file)}: zip entry "weights/data/0" \\(storage of pretrained\\.cls_token\\) is damaged: its data descriptor \\(at byte ${e.dataEnd}\\) disagrees with the central directory`));
  });

  const pkl = () => stateDictPickle([{ name: 'x', storage: 'FloatStorage', key: '0', numel: 4, shape: [4] }]);
  const pkl64 = () => stateDictPickle([{ name: 'x', storage: 'FloatStorage', key: '0', numel: 64, shape: [64] }]);

  it('a local header (no data descriptor) whose CRC-32 or sizes differ from the central directory', async () => {
    const zip = torchZip('bad', pkl(), { 0: f32Bytes([1, 2, 3, 4]) });
    const e = zipLayout(zip).entries.find((x) => x.name === 'bad/data/0')!;
    const crcBad = zip.slice();
    crcBad[e.localHeader + 14] ^= 1;
    const f1 = await writeFile(tmp('local-crc.pth'), crcBad);
    await expect(readTorchCheckpoint(f1)).rejects.toThrow(new RegExp(`^${esc(f1)}: zip entry "bad/data/0" \\(storage of x\\) is damaged: its local header records CRC-32 0x[0-9a-f]{8}, the central directory 0x[0-9a-f]{8}$`));
    const sizeBad = zip.slice();
    sizeBad[e.localHeader + 22] ^= 1;
    const f2 = await writeFile(tmp('local-size.pth'), sizeBad);
    await expect(readTorchCheckpoint(f2)).rejects.toThrow(`${f2}: zip entry "bad/data/0" (storage of x) is damaged: its local header records sizes 16/17, the central directory 16/16 (compressed/uncompressed)`);
  });

  it('a storage larger than one read chunk (8 MiB): read whole, and damage in its second chunk is found', async () => {
    const n = 2_500_000; // 10 MB
    const values = Float32Array.from({ length: n }, (_, i) => i % 977);
    const zip = torchZip('big', stateDictPickle([{ name: 'w', storage: 'FloatStorage', key: '0', numel: n, shape: [n] }]), { 0: f32Bytes(values) });
    const okFile = await writeFile(tmp('big.pth'), zip);
    expect(Buffer.from((await readTorchCheckpoint(okFile)).stateDict.get('w')!.data.buffer).equals(Buffer.from(values.buffer))).toBe(true);
    const e = zipLayout(zip).entries.find((x) => x.name === 'big/data/0')!;
    zip[e.dataStart + 9_000_000] ^= 0x80;
    const bad = await writeFile(tmp('big-bad.pth'), zip);
    await expect(readTorchCheckpoint(bad)).rejects.toThrow(`${bad}: zip entry "big/data/0" (storage of w) is damaged: its bytes have CRC-32`);
  });

  it('deflated entries (not torch.save\'s, but valid zip) are read, and their CRC-32 checked too', async () => {
    const values = f32Bytes(Array.from({ length: 64 }, (_, i) => i / 8));
    // Level 0: stored deflate blocks, so a flipped payload byte still inflates and only the CRC can tell.
    const deflated = deflateRawSync(values, { level: 0 });
    const zip = buildZip([{ name: 'd/data.pkl', data: pkl64(), deflated: deflateRawSync(pkl64()) }, { name: 'd/data/0', data: values, deflated }]);
    const okFile = await writeFile(tmp('deflated.pth'), zip);
    expect(Buffer.from((await readTorchCheckpoint(okFile)).stateDict.get('x')!.data.buffer).equals(Buffer.from(values))).toBe(true);
    const e = zipLayout(zip).entries.find((x) => x.name === 'd/data/0')!;
    zip[e.dataEnd - 3] ^= 0x40;
    const bad = await writeFile(tmp('deflated-bad.pth'), zip);
    await expect(readTorchCheckpoint(bad)).rejects.toThrow(new RegExp(`^${esc(bad)}: zip entry "d/data/0" \\(storage of x\\) is damaged: its bytes have CRC-32 0x[0-9a-f]{8}, the zip records 0x[0-9a-f]{8} `));
  });

  it('duplicate entry names', async () => {
    const file = await writeFile(tmp('dup.pth'), buildZip([
      { name: 'bad/data.pkl', data: pkl() },
      { name: 'bad/data/0', data: f32Bytes([1, 2, 3, 4]) },
      { name: 'bad/data/0', data: f32Bytes([5, 6, 7, 8]) },
    ]));
    await expect(readTorchCheckpoint(file)).rejects.toThrow(`${file}: damaged zip: the central directory lists "bad/data/0" more than once`);
  });

  it('entries outside the checkpoint folder', async () => {
    const file = await writeFile(tmp('outside.pth'), buildZip([
      { name: 'bad/data.pkl', data: pkl() },
      { name: 'bad/data/0', data: f32Bytes([1, 2, 3, 4]) },
      { name: 'elsewhere/data/0', data: f32Bytes([5, 6, 7, 8]) },
    ]));
    await expect(readTorchCheckpoint(file)).rejects.toThrow(`${file}: zip entry "elsewhere/data/0" outside the checkpoint's folder "bad/" (damaged or not written by torch.save)`);
  });

  it('the table CRC-32 (for Node < 20.15) equals zlib.crc32, in one piece and in chunks', () => {
    const data = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 2654435761) >>> 24);
    expect(crc32Table(data)).toBe(zlibCrc32(data));
    expect(crc32Table(data.subarray(5000), crc32Table(data.subarray(0, 5000)))).toBe(zlibCrc32(data));
    expect(crc32Table(new Uint8Array(0))).toBe(0);
  });
});

describe('entries the tensors do not need are verified too', () => {
  it('a damaged "version" entry, or a damaged int64 num_batches_tracked storage, is refused', async () => {
    const good = new Uint8Array(await fs.readFile(path.join(FIXTURES, 'v2-tiny-giantlike', 'weights.pth')));
    const layout = zipLayout(good);
    const version = layout.entries.find((e) => e.name.endsWith('/version'))!;
    const v = good.slice();
    v[version.dataStart] ^= 0x01;
    const f1 = await writeFile(tmp('version.pth'), v);
    await expect(readTorchCheckpoint(f1)).rejects.toThrow(`${f1}: zip entry "${version.name}" is damaged: its bytes have CRC-32`);
    const ckpt = await readTorchCheckpoint(path.join(FIXTURES, 'v2-tiny-giantlike', 'weights.pth'));
    expect(ckpt.skipped.length).toBe(16);
    // Which storage holds a skipped tensor: the only 8-byte entries are the int64 counters.
    const counter = layout.entries.find((e) => /\/data\/\d+$/.test(e.name) && e.dataEnd - e.dataStart === 8)!;
    const c = good.slice();
    c[counter.dataStart] ^= 0x01;
    const f2 = await writeFile(tmp('counter.pth'), c);
    await expect(readTorchCheckpoint(f2)).rejects.toThrow(new RegExp(`^${esc(f2)}: zip entry "${esc(counter.name)}" \\(storage of [\\w.]+num_batches_tracked\\) is damaged: its bytes have CRC-32`));
  });
});
