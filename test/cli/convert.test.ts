import * as os from 'os';
import * as path from 'path';
import { promises as fs } from 'fs';
import { execFile } from 'child_process';
import { main } from '../../src/cli/main';
import { configFromJson, VARIANTS } from '../../src/config/depth';
import { parseSafetensors, ParsedSafetensors, entryToFloat32 } from '../../src/io/safetensors';
import { PickleWriter, f32Bytes, pthFromSafetensors, stateDictPickle, torchZip } from '../io/torch_writer';

const ROOT = path.resolve(__dirname, '../..');
const FIXTURES = path.resolve(ROOT, '../shared/fixtures/parity');
let dir: string;
let logs: string[];
beforeAll(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'convert-')); });
afterAll(async () => { await fs.rm(dir, { recursive: true, force: true }); });
beforeEach(() => {
  logs = [];
  jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { logs.push(a.join(' ')); });
});
afterEach(() => { jest.restoreAllMocks(); });

const cli = (...args: string[]) => main(['node', 'depth-anything', ...args]);
const readParsed = async (f: string) => parseSafetensors(await fs.readFile(f), f);
const readJson = async (p: string) => JSON.parse(await fs.readFile(p, 'utf8'));

/** Every tensor of `got` has the same name, dtype, shape and bytes as `want` (F32). */
function expectSameTensors(got: ParsedSafetensors, want: ParsedSafetensors): void {
  expect([...got.tensors.keys()].sort()).toEqual([...want.tensors.keys()].sort());
  for (const [k, w] of want.tensors) {
    const g = got.tensors.get(k)!;
    expect([k, g.dtype, g.shape]).toEqual([k, w.dtype, w.shape]);
    if (!Buffer.from(g.bytes).equals(Buffer.from(w.bytes))) throw new Error(`${k}: bytes differ`);
  }
}

describe('convert the fixtures', () => {
  it.each(['v2-tiny', 'v1-tiny', 'v2-tiny-metric', 'v2-tiny-giantlike'])('%s weights.pth -> exactly weights.safetensors, config in the metadata', async (c) => {
    const out = path.join(dir, `${c}.safetensors`);
    expect(await cli('convert', path.join(FIXTURES, c, 'weights.pth'), out, '--config', path.join(FIXTURES, c, 'config.json'))).toBe(0);
    const got = await readParsed(out);
    expectSameTensors(got, await readParsed(path.join(FIXTURES, c, 'weights.safetensors')));
    expect(configFromJson(JSON.parse(got.metadata.config))).toEqual(configFromJson(await readJson(path.join(FIXTURES, c, 'config.json'))));
    expect(logs.join('\n')).toMatch(new RegExp(`wrote ${out}\\n  variant: +custom \\(v\\d, vit.-like.*\\n  source: +pth\\n  parameters: .* in \\d+ tensors\\n  dtype: +f32\\n  size: +[\\d.]+ MB`));
  });

  it.each(['v2-tiny', 'v1-tiny', 'v2-tiny-metric'])('%s weights-hf.safetensors + hf-config.json -> exactly weights.safetensors', async (c) => {
    const out = path.join(dir, `${c}-hf.safetensors`);
    expect(await cli('convert', path.join(FIXTURES, c, 'weights-hf.safetensors'), out, '--hf-config', path.join(FIXTURES, c, 'hf-config.json'))).toBe(0);
    const got = await readParsed(out);
    expectSameTensors(got, await readParsed(path.join(FIXTURES, c, 'weights.safetensors')));
    expect(configFromJson(JSON.parse(got.metadata.config))).toEqual(configFromJson(await readJson(path.join(FIXTURES, c, 'config.json'))));
  });
});

describe('convert an official-size float16 checkpoint (v2-vits-full)', () => {
  let ref: ParsedSafetensors;
  let pth: string;
  beforeAll(async () => {
    ref = await readParsed(path.join(FIXTURES, 'v2-vits-full', 'weights.safetensors'));
    pth = path.join(dir, 'depth_anything_v2_vits.pth');
    await fs.writeFile(pth, pthFromSafetensors(ref.tensors, 'depth_anything_v2_vits'));
  });

  it('needs no flags with the release file name; float32 output is the float16 reference upcast', async () => {
    const out = path.join(dir, 'vits-f32.safetensors');
    expect(await cli('convert', pth, out)).toBe(0);
    const got = await readParsed(out);
    expect(configFromJson(JSON.parse(got.metadata.config))).toEqual(VARIANTS['v2-vits']);
    expect(configFromJson(JSON.parse(got.metadata.config))).toEqual(configFromJson(await readJson(path.join(FIXTURES, 'v2-vits-full', 'config.json'))));
    expect(got.tensors.size).toBe(ref.tensors.size);
    for (const [k, w] of ref.tensors) {
      const g = got.tensors.get(k)!;
      expect(g.dtype).toBe('F32');
      const a = entryToFloat32(g);
      const b = entryToFloat32(w);
      if (!Buffer.from(a.buffer).equals(Buffer.from(b.buffer))) throw new Error(`${k}: values differ`);
    }
    expect(logs.join('\n')).toContain('variant:    v2-vits (relative; configuration from file name + tensors)');
    expect(logs.join('\n')).toContain('parameters: 24.8M in 239 tensors');
  });

  it('--dtype f16 reproduces the float16 reference bit for bit', async () => {
    const out = path.join(dir, 'vits-f16.safetensors');
    expect(await cli('convert', pth, out, '--dtype', 'f16')).toBe(0);
    const got = await readParsed(out);
    expectSameTensors(got, ref);
    expect(logs.join('\n')).toContain('dtype:      f16');
  });

  it('--version / --max-depth settle a renamed file; without them the error names the flags', async () => {
    const renamed = path.join(dir, 'renamed.pth');
    await fs.copyFile(pth, renamed);
    const out = path.join(dir, 'renamed.safetensors');
    await expect(cli('convert', renamed, out)).rejects.toThrow('pass --version v1 or --version v2 (and --max-depth M for a metric model)');
    await expect(fs.access(out)).rejects.toThrow();
    expect(await cli('convert', renamed, out, '--version', 'v2', '--max-depth', '20')).toBe(0);
    expect(configFromJson(JSON.parse((await readParsed(out)).metadata.config))).toEqual(VARIANTS['v2-metric-hypersim-vits']);
  });
});

describe('convert refuses bad input: a clear error naming the file, and no output file', () => {
  const bad = async (name: string, bytes: Uint8Array | Buffer) => { const f = path.join(dir, name); await fs.writeFile(f, bytes); return f; };
  const cases: Array<[string, () => Promise<string>, RegExp]> = [
    ['a truncated zip', async () => bad('trunc.pth', (await fs.readFile(path.join(FIXTURES, 'v2-tiny', 'weights.pth'))).subarray(0, 700000)), /trunc\.pth: not a readable zip archive/],
    ['a file that is neither zip nor safetensors', async () => bad('text.pth', Buffer.from('just some text, not weights')), /text\.pth: not a model file/],
    ['a pickle naming os.system', async () => bad('evil.pth', torchZip('evil', new PickleWriter().proto(2).global('os', 'system').str('id').op(0x85).reduce().stop().bytes(), {})), /evil\.pth \(evil\/data\.pkl\): refusing to load: the pickle names the global os\.system/],
    ['an unknown storage type', async () => bad('int.pth', torchZip('t', stateDictPickle([{ name: 'x', storage: 'IntStorage', key: '0', numel: 1, shape: [1] }]), { 0: f32Bytes([1]) })), /int\.pth \(t\/data\.pkl\): unknown storage type torch\.IntStorage/],
    ['tensor data out of range', async () => bad('range.pth', torchZip('t', stateDictPickle([{ name: 'x', storage: 'FloatStorage', key: '0', numel: 2, shape: [3] }]), { 0: f32Bytes([1, 2]) })), /range\.pth: tensor "x" \[3\] .* past the end of its storage data\/0 \(2 elements\)/],
    ['a safetensors header that lies about sizes', async () => {
      const b = Buffer.from(await fs.readFile(path.join(FIXTURES, 'v2-tiny', 'weights.safetensors')));
      const n = Number(b.readBigUInt64LE(0));
      const h = b.subarray(8, 8 + n).toString('utf8').replace('"shape":[1,1,32]', '"shape":[1,1,64]');
      expect(h.length).toBe(n); // same length edit: only the claim changed
      b.write(h, 8, 'utf8');
      return bad('lying.safetensors', b);
    }, /lying\.safetensors: not a valid safetensors file: tensor "pretrained\.cls_token" is F32 \[1, 1, 64\] = 256 bytes, but data_offsets span 128/],
    ['a state dict of another model', async () => bad('other.pth', torchZip('t', stateDictPickle([{ name: 'fc.weight', storage: 'FloatStorage', key: '0', numel: 2, shape: [2] }]), { 0: f32Bytes([1, 2]) })), /other\.pth: not a Depth Anything state dict: pretrained\.pos_embed is missing/],
  ];
  it.each(cases)('%s', async (_what, make, message) => {
    const input = await make();
    const outDir = await fs.mkdtemp(path.join(dir, 'out-'));
    const out = path.join(outDir, 'out.safetensors');
    await expect(cli('convert', input, out, '--version', 'v2')).rejects.toThrow(message);
    expect(await fs.readdir(outDir)).toEqual([]); // neither OUT nor a temporary file
  });

  it('an OUT folder that does not exist', async () => {
    const out = path.join(dir, 'no-such-dir', 'x.safetensors');
    await expect(cli('convert', path.join(FIXTURES, 'v2-tiny', 'weights.safetensors'), out)).rejects.toThrow(`cannot write ${out}: ENOENT`);
  });

  it('as a real process: exit code 1 and a one-line message, no stack trace', async () => {
    const input = path.join(dir, 'evil2.pth');
    await fs.writeFile(input, torchZip('e', new PickleWriter().proto(2).global('subprocess', 'Popen').stop().bytes(), {}));
    const out = path.join(dir, 'evil2.safetensors');
    const r = await new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) => {
      execFile(process.execPath, [require.resolve('tsx/cli'), 'src/cli/run.ts', 'convert', input, out], { cwd: ROOT },
        (err, stdout, stderr) => resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, stdout, stderr }));
    });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([`depth-anything: ${input} (e/data.pkl): refusing to load: the pickle names the global subprocess.Popen, which a state dict never needs (allowed: collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, torch.FloatStorage, torch.HalfStorage, torch.BFloat16Storage, torch.LongStorage). Only load checkpoints from sources you trust.`]);
    await expect(fs.access(out)).rejects.toThrow();
  });
});
