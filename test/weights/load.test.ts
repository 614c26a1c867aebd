import * as os from 'os';
import * as path from 'path';
import { promises as fs } from 'fs';
import { configFromJson } from '../../src/config/depth';
import { loadWeightsFile } from '../../src/node/weights_file';

const FIXTURES = path.resolve(__dirname, '../../../shared/fixtures/parity');
let dir: string;
beforeAll(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'load-')); });
afterAll(async () => { await fs.rm(dir, { recursive: true, force: true }); });
const readJson = async (p: string) => JSON.parse(await fs.readFile(p, 'utf8'));

describe('loadWeightsFile dispatches on the bytes, not the name', () => {
  it('the same weights as .pth, Hugging Face and our safetensors give the same state dict and config', async () => {
    const c = path.join(FIXTURES, 'v1-tiny');
    const cfg = configFromJson(await readJson(path.join(c, 'config.json')));
    // Misleading names on purpose: the format comes from the content.
    await fs.copyFile(path.join(c, 'weights.pth'), path.join(dir, 'a.safetensors'));
    await fs.copyFile(path.join(c, 'weights-hf.safetensors'), path.join(dir, 'b.pth'));
    const pth = await loadWeightsFile(path.join(dir, 'a.safetensors'), { config: path.join(c, 'config.json') });
    const hf = await loadWeightsFile(path.join(dir, 'b.pth'), { hfConfig: path.join(c, 'hf-config.json') });
    const ours = await loadWeightsFile(path.join(c, 'weights.safetensors'));
    expect([pth.format, hf.format, ours.format]).toEqual(['pth', 'hf-safetensors', 'safetensors']);
    for (const w of [pth, hf, ours]) {
      expect(w.config).toEqual(cfg);
      expect(w.stateDict.size).toBe(ours.stateDict.size);
      for (const [k, t] of ours.stateDict) {
        const got = w.stateDict.get(k)!.data;
        expect(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))).toBe(true);
      }
    }
    expect(ours.configFrom).toBe(`${path.join(c, 'weights.safetensors')} (__metadata__.config)`);
  });

  it('keeps the one-argument form working for our safetensors', async () => {
    const w = await loadWeightsFile(path.join(FIXTURES, 'v2-tiny-metric', 'weights.safetensors'));
    expect(w.config!.maxDepth).toBe(20);
    expect(w.source).toBe(path.join(FIXTURES, 'v2-tiny-metric', 'weights.safetensors'));
  });
});

describe('loadWeightsFile refuses bad files with the file name in the message', () => {
  it('a missing file', async () => {
    const f = path.join(dir, 'nope.pth');
    await expect(loadWeightsFile(f)).rejects.toThrow(`cannot read weights file ${f}: ENOENT`);
  });

  it('neither a zip nor safetensors', async () => {
    const f = path.join(dir, 'junk.bin');
    await fs.writeFile(f, Buffer.from('GIF89a and then some bytes'));
    await expect(loadWeightsFile(f)).rejects.toThrow(`${f}: not a model file: neither a safetensors file nor a PyTorch .pth checkpoint`);
  });

  it('a legacy (pre-zip) torch pickle', async () => {
    const f = path.join(dir, 'legacy.pth');
    await fs.writeFile(f, Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]));
    await expect(loadWeightsFile(f)).rejects.toThrow(`${f}: a legacy (pre-1.6) PyTorch pickle checkpoint`);
  });

  it('a safetensors header that lies about sizes', async () => {
    const bytes = await fs.readFile(path.join(FIXTURES, 'v2-tiny', 'weights-hf.safetensors'));
    const n = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
    header['head.conv3.bias'].shape = [2]; // 1 float stored, header claims 2
    let json = JSON.stringify(header);
    json += ' '.repeat(Math.max(0, n - json.length));
    const f = path.join(dir, 'lying.safetensors');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
    await fs.writeFile(f, Buffer.concat([len, Buffer.from(json), bytes.subarray(8 + n)]));
    await expect(loadWeightsFile(f)).rejects.toThrow(`${f}: not a valid safetensors file: tensor "head.conv3.bias" is F32 [2] = 8 bytes, but data_offsets span 4`);
  });

  it('a truncated safetensors file', async () => {
    const bytes = await fs.readFile(path.join(FIXTURES, 'v2-tiny', 'weights.safetensors'));
    const f = path.join(dir, 'cut.safetensors');
    await fs.writeFile(f, bytes.subarray(0, bytes.length - 100));
    await expect(loadWeightsFile(f)).rejects.toThrow(new RegExp(`^${f.replace(/\./g, '\\.')}: not a valid safetensors file: tensor ".*" data_offsets .* run past the data section`));
  });
});
