/**
 * The plain (untapped) forward on wasm against each case's recorded `output`. A tapped pass (the
 * parity suites) must record fc1's output and LayerScale's before the residual, so it runs them
 * apart; the plain pass fuses them (fc1 + GELU in one product, LayerScale + residual in one pass:
 * src/backends/choices.ts), and that path is checked here, case by case.
 */
import * as tf from '@tensorflow/tfjs-core';
import { bindWeights, disposeWeights, forward } from '../../src/depth/depth_anything';
import { wasmRowKernelsInstalled } from '../../src/backends/wasm_kernels';
import { PARITY_CASES, activation, expectParity, loadCase, useBackend } from '../helpers';

beforeAll(async () => {
  await useBackend('wasm');
});

test('the fused WebAssembly kernels are installed (the path under test)', () => {
  expect(wasmRowKernelsInstalled()).toBe(true);
});

test.each([...PARITY_CASES])('%s: the plain forward equals the reference output', async (name) => {
  const c = await loadCase(name);
  const before = tf.memory().numTensors;
  const w = bindWeights(c.stateDict, c.config, name);
  tf.tidy(() => expectParity(forward(w, c.config, activation(c, 'input') as tf.Tensor4D), activation(c, 'output'), `${name} output`));
  disposeWeights(w);
  expect(tf.memory().numTensors).toBe(before);
});
