/**
 * Depth Anything 3 loading and the net's contract: the released layout (ties restored from the
 * header metadata, unknown keys ignored, missing ones named), one line for a V2 file given to the
 * DA3 loader and the reverse, the variants table, no tensor left behind on cpu and wasm, and one
 * clear error for each bad input.
 */
import { readFileSync } from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { DA3_VARIANTS, da3ConfigFromJson } from '../../src/config/da3';
import { Da3InputError, Da3Weights, bindDa3Weights, da3Forward, disposeDa3Weights } from '../../src/da3/da3';
import { da3StateDictFromSafetensors, da3VariantFromStateDict } from '../../src/da3/weights';
import { entryToFloat32, parseSafetensors } from '../../src/io/safetensors';
import { loadDa3WeightsFile } from '../../src/node/da3_weights';
import { loadWeightsFile } from '../../src/node/weights_file';
import { caseDir, useBackend } from '../helpers';
import { DA3_FIXTURES } from './parity_suite';

const dir = (name: string) => path.join(DA3_FIXTURES, name);
const config = (name: string) => da3ConfigFromJson(JSON.parse(readFileSync(path.join(dir(name), 'config.json'), 'utf8')), name);
const stateDict = (name: string) => da3StateDictFromSafetensors(parseSafetensors(readFileSync(path.join(dir(name), 'weights.safetensors')), name));
const input = (name: string) => {
  const e = parseSafetensors(readFileSync(path.join(dir(name), 'activations.safetensors')), name).tensors.get('input')!;
  return { data: entryToFloat32(e), shape: e.shape };
};

describe('Depth Anything 3 weights', () => {
  beforeAll(() => useBackend('cpu'));

  test('the shared aux LayerNorm is stored once and tied back: 437 stored, 443 entries, one tensor', () => {
    const parsed = parseSafetensors(readFileSync(path.join(dir('da3-tiny-anyview'), 'weights.safetensors')), 'anyview');
    expect(parsed.tensors.size).toBe(437);
    const sd = da3StateDictFromSafetensors(parsed);
    expect(sd.size).toBe(443);
    for (const L of [1, 2, 3]) {
      expect(sd.get(`model.head.scratch.output_conv2_aux.${L}.2.weight`)).toBe(sd.get('model.head.scratch.output_conv2_aux.0.2.weight'));
      expect(sd.get(`model.head.scratch.output_conv2_aux.${L}.2.bias`)).toBe(sd.get('model.head.scratch.output_conv2_aux.0.2.bias'));
    }
    expect(stateDict('da3-tiny-mono').size).toBe(238);
  });

  test('unknown keys are ignored; a missing key is refused by name, nothing left behind', () => {
    const cfg = config('da3-tiny-anyview');
    const sd = stateDict('da3-tiny-anyview');
    sd.set('model.some_release_extra.weight', { shape: [1], data: new Float32Array(1) });
    const before = tf.memory().numTensors;
    disposeDa3Weights(bindDa3Weights(sd, cfg, 'extra.safetensors'));
    expect(tf.memory().numTensors).toBe(before);
    // A file written without the tie metadata misses the level-3 LayerNorm the ray head reads.
    const parsed = parseSafetensors(readFileSync(path.join(dir('da3-tiny-anyview'), 'weights.safetensors')), 'untied.safetensors');
    const untied = da3StateDictFromSafetensors({ ...parsed, metadata: {} });
    untied.delete('model.head.scratch.output_conv2_aux.3.2.bias');
    expect(() => bindDa3Weights(untied, cfg, 'untied.safetensors')).toThrow('untied.safetensors: weights do not match the model configuration\nmissing keys (2):\n  model.head.scratch.output_conv2_aux.3.2.weight (expected [32])\n  model.head.scratch.output_conv2_aux.3.2.bias (expected [32])');
    const one = stateDict('da3-tiny-anyview');
    one.delete('model.cam_dec.fc_t.bias');
    expect(() => bindDa3Weights(one, cfg, 'one.safetensors')).toThrow('one.safetensors: weights do not match the model configuration: missing key model.cam_dec.fc_t.bias (expected [3])');
    expect(tf.memory().numTensors).toBe(before);
  });

  test('a V2 file given to the DA3 loader, and a DA3 file given to the V2 loader: one line each', async () => {
    const v2 = path.join(caseDir('v2-tiny'), 'weights.safetensors');
    await expect(loadDa3WeightsFile(v2)).rejects.toThrow(`${v2}: not a Depth Anything 3 checkpoint: model.backbone.pretrained.pos_embed is missing`);
    const v2sd = (await loadWeightsFile(v2)).stateDict;
    expect(() => bindDa3Weights(v2sd, config('da3-tiny-mono'), 'v2.safetensors')).toThrow('v2.safetensors: a Depth Anything V1/V2 checkpoint (pretrained.*, depth_head.*), not a Depth Anything 3 one (model.backbone.*, model.head.*)');
    const da3 = path.join(dir('da3-tiny-mono'), 'weights.safetensors');
    await expect(loadWeightsFile(da3)).rejects.toThrow(`${da3}: a Depth Anything 3 checkpoint (model.backbone.*, model.head.*), not a Depth Anything V1/V2 one (pretrained.*, depth_head.*)`);
  });

  test('configuration: the fixtures\' config.json, the released variants and their licences, a size from the tensors', async () => {
    const any = config('da3-tiny-anyview');
    expect(any.net).toMatchObject({ name: 'vits', embedDim: 32, depth: 12, numHeads: 2, outLayers: [5, 7, 9, 11], altStart: 4, catToken: true });
    expect(any.head).toEqual({ kind: 'dualdpt', dimIn: 64, outputDim: 2, features: 8, outChannels: [4, 8, 16, 32] });
    expect(config('da3-tiny-mono')).toMatchObject({ net: { name: 'vitl', altStart: -1, catToken: false }, head: { kind: 'dpt', dimIn: 32 } });
    expect(Object.fromEntries(Object.entries(DA3_VARIANTS).map(([k, v]) => [k, v.licence]))).toEqual({
      'da3-small': 'Apache-2.0', 'da3-base': 'Apache-2.0', 'da3-large': 'CC-BY-NC-4.0', 'da3-giant': 'CC-BY-NC-4.0', 'da3mono-large': 'Apache-2.0', 'da3metric-large': 'Apache-2.0',
    });
    expect(DA3_VARIANTS['da3-giant'].config.net).toMatchObject({ ffn: 'swiglu', altStart: 13, embedDim: 1536, depth: 40 });
    expect(() => da3ConfigFromJson({ model_config: { net: { name: 'vitx' }, head: {} } }, 'bad.json')).toThrow('bad.json: model_config.net.name must be vits, vitb, vitl or vitg; got "vitx"');
    expect(() => da3ConfigFromJson({ model_config: { net: { name: 'vits', out_layers: [5, 7, 9, 11] }, head: { __object__: { name: 'DualDPT' }, dim_in: 384 } } }, 'bad.json')).toThrow('bad.json: not a buildable Depth Anything 3 configuration: head.dim_in 384 must be 768 (2 x embed_dim)');
    // The tiny files match no released size: the config.json is asked for.
    expect(() => da3VariantFromStateDict(stateDict('da3-tiny-anyview'), 'tiny.safetensors')).toThrow('tiny.safetensors: a Depth Anything 3 checkpoint of no released size (embed_dim 32, 12 blocks, head features 8, with camera modules); pass its config.json');
  });
});

describe.each(['cpu', 'wasm'] as const)('Depth Anything 3 forward on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  test.each(['da3-tiny-anyview', 'da3-tiny-mono'])('%s: the output dict, and no tensor left behind (with and without taps)', (name) => {
    const cfg = config(name);
    const w = bindDa3Weights(stateDict(name), cfg, name);
    const { data, shape } = input(name);
    const x = tf.tensor(data, shape);
    const before = tf.memory().numTensors;
    const out = da3Forward(w, cfg, x);
    const [, N, , H, W] = shape;
    expect(out.depth.shape).toEqual([1, N, H, W]);
    if (cfg.camDec) {
      expect(out.depthConf!.shape).toEqual([1, N, H, W]);
      expect(out.extrinsics!.shape).toEqual([1, N, 3, 4]);
      expect(out.intrinsics!.shape).toEqual([1, N, 3, 3]);
      expect(out.sky).toBeUndefined();
    } else {
      expect(out.sky!.shape).toEqual([1, N, H, W]);
      expect(out.extrinsics).toBeUndefined();
    }
    tf.dispose(out as unknown as tf.TensorContainer);
    expect(tf.memory().numTensors).toBe(before);
    let taps = 0;
    tf.dispose(da3Forward(w, cfg, x, { tap: () => { taps++; } }) as unknown as tf.TensorContainer);
    expect(taps).toBeGreaterThan(90);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    disposeDa3Weights(w);
  });
});

describe('Depth Anything 3 bad input: one clear line, nothing left behind', () => {
  const cfg = config('da3-tiny-anyview');
  let w: Da3Weights;
  beforeAll(async () => {
    await useBackend('cpu');
    w = bindDa3Weights(stateDict('da3-tiny-anyview'), cfg, 'anyview');
  });
  afterAll(() => disposeDa3Weights(w));

  test.each([
    ['rank 4 (no views axis)', [1, 3, 28, 28], 'float32', undefined, 'Depth Anything 3 input must be [1, views, 3, height, width] (one scene, normalised RGB); got [1, 3, 28, 28]'],
    ['two scenes', [2, 1, 3, 28, 28], 'float32', undefined, 'Depth Anything 3 input must be [1, views, 3, height, width] (one scene, normalised RGB); got [2, 1, 3, 28, 28]'],
    ['zero views', [1, 0, 3, 28, 28], 'float32', undefined, 'Depth Anything 3 input has no views ([1, 0, 3, 28, 28])'],
    ['a side not a multiple of 14', [1, 2, 3, 28, 30], 'float32', undefined, 'Depth Anything 3 input height and width must be positive multiples of 14; got 28x30'],
    ['int32', [1, 2, 3, 28, 28], 'int32', undefined, 'Depth Anything 3 input must be float32; got int32'],
    ['cameras for 1 view of 2', [1, 2, 3, 28, 28], 'float32', { extrinsics: new Array(16).fill(0), intrinsics: new Array(18).fill(1) }, 'extrinsics: 16 numbers for 2 views; expected 2 x 4 x 4 (32) or 2 x 3 x 4 (24)'],
    ['intrinsics of the wrong size', [1, 2, 3, 28, 28], 'float32', { extrinsics: new Array(24).fill(0), intrinsics: new Array(16).fill(1) }, 'intrinsics: 16 numbers for 2 views; expected 2 x 3 x 3 (18)'],
    ['a NaN in the cameras', [1, 2, 3, 28, 28], 'float32', { extrinsics: [NaN, ...new Array(23).fill(0)], intrinsics: new Array(18).fill(1) }, 'cameras: extrinsics and intrinsics must be finite numbers'],
  ] as const)('%s', (_what, shape, dtype, cameras, message) => {
    const x = tf.zeros(shape as unknown as number[], dtype);
    const before = tf.memory().numTensors;
    expect(() => da3Forward(w, cfg, x, cameras ? { cameras } : {})).toThrow(new Da3InputError(message));
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  test('cameras given to the mono model', () => {
    const mono = config('da3-tiny-mono');
    const wm = bindDa3Weights(stateDict('da3-tiny-mono'), mono, 'mono');
    const x = tf.zeros([1, 1, 3, 28, 28]);
    expect(() => da3Forward(wm, mono, x, { cameras: { extrinsics: new Array(16).fill(0), intrinsics: new Array(9).fill(1) } })).toThrow('this Depth Anything 3 model (mono/metric) has no camera encoder: it takes no cameras');
    x.dispose();
    disposeDa3Weights(wm);
  });
});
