import * as os from 'os';
import * as path from 'path';
import { promises as fs } from 'fs';
import { VARIANTS, configFromJson } from '../../src/config/depth';
import { parseSafetensors } from '../../src/io/safetensors';
import { hintsFromFileName, detectArchitecture, resolveConfig } from '../../src/weights/detect';
import { loadWeightsFile } from '../../src/node/weights_file';
import { pthFromSafetensors } from '../io/torch_writer';

const FIXTURES = path.resolve(__dirname, '../../../shared/fixtures/parity');

describe('hintsFromFileName: the official release names', () => {
  it.each([
    ['depth_anything_v2_vits.pth', { version: 'v2', encoder: 'vits' }],
    ['/x/y/depth_anything_v2_vitl.pth', { version: 'v2', encoder: 'vitl' }],
    ['depth_anything_v2_metric_hypersim_vitb.pth', { version: 'v2', encoder: 'vitb', maxDepth: 20 }],
    ['depth_anything_v2_metric_vkitti_vitl.pth', { version: 'v2', encoder: 'vitl', maxDepth: 80 }],
    ['depth_anything_vitl14.pth', { version: 'v1', encoder: 'vitl' }],
    ['depth_anything_vits14.safetensors', { version: 'v1', encoder: 'vits' }],
    ['weights.pth', {}],
    ['pytorch_model.bin', {}],
  ])('%s', (name, hints) => {
    expect(hintsFromFileName(name)).toEqual(hints);
  });
});

describe('variant detection on the tiny fixtures', () => {
  it('reads every size the tensors hold (giant-like: SwiGLU, BatchNorm, class-token readout)', async () => {
    const g = await loadWeightsFile(path.join(FIXTURES, 'v2-tiny-giantlike', 'weights.safetensors'));
    expect(detectArchitecture(g.stateDict, 'g')).toEqual({
      embedDim: 48, depth: 40, ffn: 'swiglu', patchSize: 14, posGrid: 37, features: 16,
      outChannels: [24, 24, 24, 24], useBn: true, useClsToken: true,
    });
    const t = await loadWeightsFile(path.join(FIXTURES, 'v2-tiny', 'weights.safetensors'));
    expect(detectArchitecture(t.stateDict, 't')).toEqual({
      embedDim: 32, depth: 12, ffn: 'mlp', patchSize: 14, posGrid: 37, features: 16,
      outChannels: [8, 16, 32, 64], useBn: false, useClsToken: false,
    });
  });

  it('asks for --config when the width is not an official one (heads unknown)', async () => {
    const t = await loadWeightsFile(path.join(FIXTURES, 'v2-tiny', 'weights.pth'));
    expect(t.config).toBeUndefined();
    expect(t.configProblem).toMatch(/weights\.pth: the encoder \(embed_dim 32, depth 12, mlp\) is not an official size.*pass --config FILE/);
  });

  it('refuses a configuration that contradicts the tensors, naming each field', async () => {
    const t = await loadWeightsFile(path.join(FIXTURES, 'v2-tiny', 'weights.safetensors'));
    const wrong = configFromJson({ version: 'v2', encoder: 'vits', embed_dim: 32, depth: 12, heads: 2, features: 32, use_bn: true });
    expect(() => resolveConfig(t.stateDict, 'w.pth', { config: wrong })).toThrow(
      'w.pth: the configuration (from --config) does not match the weights: features: 32 in the configuration, 16 in the tensors; ' +
      'out_channels: 48,96,192,384 in the configuration, 8,16,32,64 in the tensors; use_bn: true in the configuration, false in the tensors');
  });

  it('refuses a flag that contradicts the recorded configuration', async () => {
    const file = path.join(FIXTURES, 'v2-tiny', 'weights.safetensors');
    await expect(loadWeightsFile(file, { version: 'v1' })).rejects.toThrow(`${file}: --version v1 contradicts ${file} (__metadata__.config), which says v2`);
    await expect(loadWeightsFile(path.join(FIXTURES, 'v2-tiny-metric', 'weights.safetensors'), { maxDepth: 80 })).rejects.toThrow(/--max-depth 80 contradicts .* which says max_depth 20/);
  });
});

describe('variant detection on an official-size checkpoint (v2-vits-full as a float16 .pth)', () => {
  let dir: string;
  let pth: string;
  const link = async (name: string) => { const p = path.join(dir, name); await fs.symlink(pth, p); return p; };
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'detect-'));
    const parsed = parseSafetensors(await fs.readFile(path.join(FIXTURES, 'v2-vits-full', 'weights.safetensors')), 'full');
    pth = path.join(dir, 'checkpoint.pth');
    await fs.writeFile(pth, pthFromSafetensors(parsed.tensors));
  });
  afterAll(async () => { await fs.rm(dir, { recursive: true, force: true }); });

  it('depth_anything_v2_vits.pth: V2 ViT-S, the fixture configuration, float16 storages', async () => {
    const w = await loadWeightsFile(await link('depth_anything_v2_vits.pth'));
    expect(w.config).toEqual(VARIANTS['v2-vits']);
    expect(w.configFrom).toBe('file name + tensors');
    expect(w.dtypes).toEqual(['float16']);
  });

  it('depth_anything_vits14.pth: V1 (the last four blocks feed the head)', async () => {
    expect((await loadWeightsFile(await link('depth_anything_vits14.pth'))).config).toEqual(VARIANTS['v1-vits']);
  });

  it('depth_anything_v2_metric_vkitti_vits.pth: outdoor metric, 80 m', async () => {
    expect((await loadWeightsFile(await link('depth_anything_v2_metric_vkitti_vits.pth'))).config).toEqual(VARIANTS['v2-metric-vkitti-vits']);
  });

  it('a renamed file needs --version (the error says so); flags settle it', async () => {
    const w = await loadWeightsFile(pth);
    expect(w.config).toBeUndefined();
    expect(w.configProblem).toBe(`${pth}: V1 and V2 checkpoints have the same tensors and the file name is not an official release name; pass --version v1 or --version v2 (and --max-depth M for a metric model)`);
    expect((await loadWeightsFile(pth, { version: 'v2' })).config).toEqual(VARIANTS['v2-vits']);
    expect((await loadWeightsFile(pth, { version: 'v2', maxDepth: 20 })).config).toEqual(VARIANTS['v2-metric-hypersim-vits']);
  });
});
