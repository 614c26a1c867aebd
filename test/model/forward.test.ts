/** The whole model through its public functions: batches, input checks, encode, tensor hygiene. */
import * as tf from '@tensorflow/tfjs-core';
import { bindWeights, disposeWeights, encode, forward, DepthAnythingWeights } from '../../src/depth/depth_anything';
import { runParity } from '../../src/verify/parity';
import { Case, activation, expectParity, loadCase, useBackend } from '../helpers';

describe.each(['cpu', 'wasm'] as const)('forward on %s (v2-tiny)', (backend) => {
  let c: Case;
  let w: DepthAnythingWeights;
  beforeAll(async () => {
    await useBackend(backend);
    c = await loadCase('v2-tiny');
    w = bindWeights(c.stateDict, c.config, 'v2-tiny');
  });
  afterAll(() => disposeWeights(w));

  test('batch of 2: each item equals the reference / its own single run', () => {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = activation(c, 'input') as tf.Tensor4D;
      const flipped = tf.reverse(x, 2) as tf.Tensor4D;
      const out = forward(w, c.config, tf.concat([x, flipped], 0) as tf.Tensor4D);
      expect(out.shape).toEqual([2, x.shape[1], x.shape[2]]);
      const [a, b] = tf.split(out, 2, 0);
      expectParity(a, activation(c, 'output'), 'batch item 0');
      expectParity(b, forward(w, c.config, flipped), 'batch item 1');
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  test('forward and encode leave numTensors unchanged', () => {
    const x = activation(c, 'input') as tf.Tensor4D;
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) tf.dispose(forward(w, c.config, x));
    expect(tf.memory().numTensors).toBe(before);
    const enc = encode(w, c.config, x);
    expect(enc.layers).toHaveLength(4);
    expect(enc.layers[0].patch.shape).toEqual([1, enc.patchH * enc.patchW, c.config.embedDim]);
    tf.tidy(() => expectParity(enc.layers[3].cls, activation(c, 'features.3.cls'), 'encode cls'));
    tf.dispose(enc.layers.flatMap((l) => [l.patch, l.cls]));
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  test('runParity (in process) passes and leaves numTensors unchanged', async () => {
    const before = tf.memory().numTensors;
    const report = await runParity(w, c.config, c.activations);
    expect(tf.memory().numTensors).toBe(before);
    expect(report.ok).toBe(true);
  });

  test('sides that are not multiples of 14 get a clear error, and nothing leaks', () => {
    const before = tf.memory().numTensors;
    const x = tf.zeros([1, 100, 98, 3]) as tf.Tensor4D;
    expect(() => forward(w, c.config, x)).toThrow('multiples of the patch size 14; got 100x98 (nearest: 98x98)');
    const nchw = tf.zeros([1, 3, 98, 98]) as tf.Tensor4D;
    expect(() => forward(w, c.config, nchw)).toThrow('model input must be [batch, height, width, 3]');
    tf.dispose([x, nchw]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('binding', () => {
  beforeAll(async () => useBackend('cpu'));

  test('a checkpoint that does not fit the config lists every problem in one error and leaks nothing', async () => {
    const c = await loadCase('v2-tiny');
    const sd = new Map(c.stateDict);
    sd.delete('pretrained.blocks.3.attn.proj.bias');
    sd.set('pretrained.norm.weight', { shape: [31], data: new Float32Array(31) });
    sd.set('depth_head.extra.weight', { shape: [1], data: new Float32Array(1) });
    const before = tf.memory().numTensors;
    let message = '';
    try {
      bindWeights(sd, c.config, 'bad.safetensors');
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('bad.safetensors: weights do not match the model configuration');
    expect(message).toContain('missing keys (1):\n  pretrained.blocks.3.attn.proj.bias (expected [32])');
    expect(message).toContain('keys with the wrong shape (1):\n  pretrained.norm.weight: [31], expected [32]');
    expect(message).toContain('unexpected keys (1):\n  depth_head.extra.weight');
    expect(tf.memory().numTensors).toBe(before);
  });

  test('mask_token and refinenet4.resConfUnit1 are in the checkpoint and deliberately unused', async () => {
    const c = await loadCase('v2-tiny');
    expect(c.stateDict.has('pretrained.mask_token')).toBe(true);
    expect(c.stateDict.has('depth_head.scratch.refinenet4.resConfUnit1.conv1.weight')).toBe(true);
    const w = bindWeights(c.stateDict, c.config, 'v2-tiny');
    expect(w.depth_head.scratch.refinenet4.resConfUnit1).toBeUndefined();
    disposeWeights(w);
  });

  test('a config of the wrong model is refused (v1-tiny weights bound as giant-like)', async () => {
    const v1 = await loadCase('v1-tiny');
    const giant = await loadCase('v2-tiny-giantlike');
    expect(() => bindWeights(v1.stateDict, giant.config, 'v1-tiny')).toThrow(/missing keys \(\d+\):\n  pretrained.blocks.0.mlp.w12.weight/);
  });
});
