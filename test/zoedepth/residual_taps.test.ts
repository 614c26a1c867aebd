/**
 * The residual units' module outputs as PyTorch's hooks see them (the V1 metric fixtures record
 * them): with BatchNorm folded into the convolutions, `conv1` / `conv2` (before BatchNorm) are
 * recovered from the folded output, checked here against the unfolded arithmetic on the
 * BatchNorm case's weights.
 */
import * as tf from '@tensorflow/tfjs-core';
import { bindWeights, disposeWeights } from '../../src/depth/depth_anything';
import { residualConvUnit } from '../../src/dpt/residual_conv_unit';
import { activation, expectParity, loadCase, useBackend } from '../helpers';

beforeAll(async () => {
  await useBackend('wasm');
});

test('BatchNorm units: conv1 / bn1 / conv2 / bn2 taps equal the unfolded official arithmetic', async () => {
  const c = await loadCase('v2-tiny-giantlike');
  expect(c.config.useBn).toBe(true);
  const w = bindWeights(c.stateDict, c.config, c.name);
  const key = 'depth_head.scratch.refinenet1.resConfUnit1';
  const raw = (k: string) => c.stateDict.get(`${key}.${k}`)!;
  const F = c.config.features;
  try {
    tf.tidy(() => {
      const x = activation(c, 'depth_head.scratch.layer1_rn') as tf.Tensor4D;
      const seen = new Map<string, tf.Tensor>();
      let n = 0;
      const out = residualConvUnit(x, w.depth_head.scratch.refinenet1.resConfUnit1!, (k, t) => { seen.set(k, t); },
        { key, activation: () => `act#${n++}` });
      expect([...seen.keys()]).toEqual(['act#0', `${key}.conv1`, `${key}.bn1`, 'act#1', `${key}.conv2`, `${key}.bn2`, `${key}.skip_add.activation_post_process`]);
      // Unfolded: Conv2d (with bias), then BatchNorm2d in eval mode.
      const conv = (t: tf.Tensor4D, name: string) => tf.add(tf.conv2d(t, tf.transpose(tf.tensor4d(raw(`${name}.weight`).data, [F, F, 3, 3]), [2, 3, 1, 0]) as tf.Tensor4D, 1, 'same'), tf.tensor1d(raw(`${name}.bias`).data)) as tf.Tensor4D;
      const bn = (t: tf.Tensor4D, name: string) => tf.add(tf.mul(tf.div(tf.sub(t, tf.tensor1d(raw(`${name}.running_mean`).data)),
        tf.sqrt(tf.add(tf.tensor1d(raw(`${name}.running_var`).data), 1e-5))), tf.tensor1d(raw(`${name}.weight`).data)), tf.tensor1d(raw(`${name}.bias`).data)) as tf.Tensor4D;
      const c1 = conv(tf.relu(x), 'conv1');
      expectParity(seen.get(`${key}.conv1`)!, c1, 'conv1');
      const b1 = bn(c1, 'bn1');
      expectParity(seen.get(`${key}.bn1`)!, b1, 'bn1');
      const c2 = conv(tf.relu(b1), 'conv2');
      expectParity(seen.get(`${key}.conv2`)!, c2, 'conv2');
      expectParity(seen.get(`${key}.bn2`)!, bn(c2, 'bn2'), 'bn2');
      // The tapped path computes what the untapped (fused) one does.
      expectParity(out, residualConvUnit(x, w.depth_head.scratch.refinenet1.resConfUnit1!), 'output');
      expectParity(out, activation(c, `${key}`), 'recorded unit output');
    });
  } finally {
    disposeWeights(w);
  }
});
