/**
 * The official-format `.pth` writer: our reader gets every parameter back bit-exactly under the
 * official names and shapes (the fixture's weights are the official module's `state_dict()`), and
 * Python's own `zipfile` and `pickle` read it as `torch.load` does at the format level: a custom
 * Unpickler maps the three torch globals to stubs, the storages are the stored, CRC-checked,
 * 64-byte-aligned entries `archive/data/<key>`, and their bytes are the parameters'.
 */
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FIXTURES } from '../helpers';
import { loadWeightsFile } from '../../src/node/weights_file';
import { writeTorchCheckpointFile } from '../../src/node/train_pth';
import { readTorchCheckpoint } from '../../src/weights/torch_zip';
import { contiguousStrides } from '../../src/weights/torch_save';
import { StateDict } from '../../src/weights/state_dict';

const WEIGHTS = path.join(FIXTURES, 'train', 'train-metric-tiny', 'weights.safetensors');
let dir: string;
let sd: StateDict;
let pth: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'train-pth-'));
  sd = (await loadWeightsFile(WEIGHTS)).stateDict;
  pth = path.join(dir, 'model.pth');
  await writeTorchCheckpointFile(pth, sd);
});

afterAll(async () => { await fs.rm(dir, { recursive: true, force: true }); });

test('our reader gets every parameter back bit-exactly, official names and shapes in order', async () => {
  const back = await readTorchCheckpoint(pth);
  expect([...back.stateDict.keys()]).toEqual([...sd.keys()]);
  expect(back.stateDict.size).toBe(239);
  expect(back.dtypes).toEqual(new Set(['float32']));
  for (const [k, t] of sd) {
    const u = back.stateDict.get(k)!;
    expect({ k, shape: u.shape }).toEqual({ k, shape: t.shape });
    expect(Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))).toBe(true);
  }
});

const PY = String.raw`
import collections, hashlib, json, pickle, struct, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None  # every CRC-32
class Stub:
    def __init__(self, name): self.name = name
class TorchUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ('collections', 'OrderedDict'): return collections.OrderedDict
        if (module, name) == ('torch._utils', '_rebuild_tensor_v2'): return lambda *a: ('tensor', a)
        if (module, name) == ('torch', 'FloatStorage'): return Stub('FloatStorage')
        raise pickle.UnpicklingError('unexpected global %s.%s' % (module, name))
    def persistent_load(self, pid): return pid
sd = TorchUnpickler(z.open('archive/data.pkl')).load()
raw = open(sys.argv[1], 'rb').read()
out = {'type': type(sd).__name__, 'names': z.namelist(), 'version': z.read('archive/version').decode(),
       'byteorder': z.read('archive/byteorder').decode(), 'tensors': []}
for k, (tag, (pid, offset, size, stride, grad, hooks)) in sd.items():
    assert tag == 'tensor' and grad is False and hooks == collections.OrderedDict()
    kind, cls, key, loc, numel = pid
    info = z.getinfo('archive/data/' + key)
    n, e = struct.unpack('<HH', raw[info.header_offset + 26:info.header_offset + 30])
    start = info.header_offset + 30 + n + e
    data = z.read('archive/data/' + key)
    assert raw[start:start + len(data)] == data
    out['tensors'].append({'name': k, 'pid': [kind, cls.name, key, loc, numel], 'offset': offset, 'size': list(size),
        'stride': list(stride), 'stored': info.compress_type == zipfile.ZIP_STORED, 'align': start % 64,
        'sha256': hashlib.sha256(data).hexdigest()})
print(json.dumps(out))
`;

test('Python\'s zipfile and pickle read it as torch.load does: storages, sizes, strides, aligned stored bytes', () => {
  const r = JSON.parse(execFileSync('python3', ['-c', PY, pth], { encoding: 'utf8' }));
  expect(r.type).toBe('OrderedDict');
  expect(r.version).toBe('3\n');
  expect(r.byteorder).toBe('little');
  expect(r.names.slice(0, 2)).toEqual(['archive/data.pkl', 'archive/byteorder']);
  expect(r.names[r.names.length - 1]).toBe('archive/version');
  const names = [...sd.keys()];
  expect(r.tensors.map((t: { name: string }) => t.name)).toEqual(names);
  r.tensors.forEach((t: Record<string, unknown>, i: number) => {
    const p = sd.get(names[i])!;
    const sha = createHash('sha256').update(Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength)).digest('hex');
    expect(t).toEqual({
      name: names[i], pid: ['storage', 'FloatStorage', String(i), 'cpu', p.data.length], offset: 0, size: p.shape,
      stride: contiguousStrides(p.shape), stored: true, align: 0, sha256: sha,
    });
  });
});
