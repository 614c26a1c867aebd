import * as os from 'os';
import * as path from 'path';
import { promises as fs } from 'fs';
import { VARIANTS, configFromJson } from '../../src/config/depth';
import { configFromHfConfig, remapHfStateDict, isHfLayout } from '../../src/weights/remap_hf';
import { loadWeightsFile } from '../../src/node/weights_file';
import { StateDict } from '../../src/weights/state_dict';

const FIXTURES = path.resolve(__dirname, '../../../shared/fixtures/parity');
const CASES = ['v2-tiny', 'v1-tiny', 'v2-tiny-metric'];
const readJson = async (p: string) => JSON.parse(await fs.readFile(p, 'utf8'));

const sameBits = (a: Float32Array, b: Float32Array) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('Hugging Face layout -> official keys', () => {
  it.each(CASES)('%s: remapped tensors equal the official state dict exactly, config equals the fixture', async (c) => {
    const hf = await loadWeightsFile(path.join(FIXTURES, c, 'weights-hf.safetensors'), { hfConfig: path.join(FIXTURES, c, 'hf-config.json') });
    const ref = await loadWeightsFile(path.join(FIXTURES, c, 'weights.safetensors'));
    expect(hf.format).toBe('hf-safetensors');
    expect([...hf.stateDict.keys()].sort()).toEqual([...ref.stateDict.keys()].sort());
    for (const [k, t] of ref.stateDict) {
      expect(hf.stateDict.get(k)!.shape).toEqual(t.shape);
      expect(sameBits(hf.stateDict.get(k)!.data, t.data)).toBe(true);
    }
    expect(hf.config).toEqual(configFromJson(await readJson(path.join(FIXTURES, c, 'config.json'))));
  });

  it('finds config.json beside model.safetensors (the hub layout)', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'hf-'));
    try {
      await fs.copyFile(path.join(FIXTURES, 'v2-tiny-metric', 'weights-hf.safetensors'), path.join(dir, 'model.safetensors'));
      await fs.copyFile(path.join(FIXTURES, 'v2-tiny-metric', 'hf-config.json'), path.join(dir, 'config.json'));
      const hf = await loadWeightsFile(path.join(dir, 'model.safetensors'));
      expect(hf.configFrom).toBe(path.join(dir, 'config.json'));
      expect(hf.config!.maxDepth).toBe(20);
      expect(hf.config).toEqual(configFromJson(await readJson(path.join(FIXTURES, 'v2-tiny-metric', 'config.json'))));
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  const t = (n: number, fill = 0) => ({ shape: [n], data: new Float32Array(n).fill(fill) });

  it('joins query, key, value rows into qkv in that order and reverses the fusion order', () => {
    const hf: StateDict = new Map([
      ['backbone.encoder.layer.3.attention.attention.value.bias', t(2, 3)],
      ['backbone.encoder.layer.3.attention.attention.query.bias', t(2, 1)],
      ['backbone.encoder.layer.3.attention.attention.key.bias', t(2, 2)],
      ['neck.fusion_stage.layers.0.projection.bias', t(1)],
      ['neck.fusion_stage.layers.3.residual_layer2.convolution1.weight', t(1)],
      ['neck.convs.2.weight', t(1)],
      ['head.conv3.bias', t(1)],
    ]);
    expect(isHfLayout(hf.keys())).toBe(true);
    const sd = remapHfStateDict(hf, 'x');
    expect([...sd.get('pretrained.blocks.3.attn.qkv.bias')!.data]).toEqual([1, 1, 2, 2, 3, 3]);
    expect(sd.get('pretrained.blocks.3.attn.qkv.bias')!.shape).toEqual([6]);
    expect([...sd.keys()].sort()).toEqual([
      'depth_head.scratch.layer3_rn.weight',
      'depth_head.scratch.output_conv2.2.bias',
      'depth_head.scratch.refinenet1.resConfUnit2.conv1.weight',
      'depth_head.scratch.refinenet4.out_conv.bias',
      'pretrained.blocks.3.attn.qkv.bias',
    ]);
  });

  it('names keys it cannot place, and a missing q/k/v part', () => {
    expect(() => remapHfStateDict(new Map([['backbone.encoder.layer.0.mlp.weights_in.weight', t(1)]]), 'm.safetensors'))
      .toThrow('m.safetensors: Hugging Face keys with no official equivalent (1): backbone.encoder.layer.0.mlp.weights_in.weight');
    expect(() => remapHfStateDict(new Map([['backbone.encoder.layer.0.attention.attention.query.weight', t(1)]]), 'm.safetensors'))
      .toThrow('m.safetensors: pretrained.blocks.0.attn.qkv.weight needs query, key and value; missing key, value');
  });
});

describe('configFromHfConfig', () => {
  const hfConfig = (hidden: number, layers: number, heads: number, outIdx: number[], neck: number[], fusion: number, extra = {}) => ({
    model_type: 'depth_anything',
    backbone_config: { hidden_size: hidden, num_hidden_layers: layers, num_attention_heads: heads, out_indices: outIdx, patch_size: 14, image_size: 518, layer_norm_eps: 1e-6 },
    neck_hidden_sizes: neck, fusion_hidden_size: fusion, depth_estimation_type: 'relative', ...extra,
  });

  it('reads the official V2 large, V1 small and metric indoor configurations', () => {
    expect(configFromHfConfig(hfConfig(1024, 24, 16, [5, 12, 18, 24], [256, 512, 1024, 1024], 256), 'c')).toEqual(VARIANTS['v2-vitl']);
    expect(configFromHfConfig(hfConfig(384, 12, 6, [9, 10, 11, 12], [48, 96, 192, 384], 64), 'c')).toEqual(VARIANTS['v1-vits']);
    expect(configFromHfConfig(hfConfig(768, 12, 12, [3, 6, 9, 12], [96, 192, 384, 768], 128, { depth_estimation_type: 'metric', max_depth: 20 }), 'c'))
      .toEqual(VARIANTS['v2-metric-hypersim-vitb']);
  });

  it('refuses configs it cannot honour', () => {
    expect(() => configFromHfConfig({ model_type: 'dpt' }, 'c.json')).toThrow('c.json: model_type is "dpt", not "depth_anything"');
    expect(() => configFromHfConfig(hfConfig(384, 12, 6, [3, 6, 9, 12], [48, 96, 192, 384], 64, { depth_estimation_type: 'metric', max_depth: undefined }), 'c.json'))
      .toThrow('c.json: depth_estimation_type is "metric" but max_depth is missing');
  });
});
