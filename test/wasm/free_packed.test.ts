/**
 * wasm: a weight's heap copy is freed once XNNPACK has packed it (src/backends/wasm_memory.ts
 * `freeWeightsOncePacked`). Later passes use the packed operators only: the same outputs, bit for
 * bit, tapped (parity) passes included, and disposing the model frees nothing twice.
 */
import * as tf from '@tensorflow/tfjs-core';
import { bindWeights, disposeWeights, forward } from '../../src/depth/depth_anything';
import { wasmFreedWeightBytes } from '../../src/backends/wasm_memory';
import { runParity } from '../../src/verify/parity';
import { activation, loadCase, useBackend } from '../helpers';

beforeAll(async () => {
  await useBackend('wasm');
});

test('v2-tiny: kernels freed after the first pass; later passes, a tapped pass and a second model give the same depth', async () => {
  const c = await loadCase('v2-tiny');
  const before = tf.memory().numTensors;
  const freedBefore = wasmFreedWeightBytes();
  const x = activation(c, 'input') as tf.Tensor4D;
  const depth = (wts: typeof w): Buffer => {
    const y = forward(wts, c.config, x);
    const d = y.dataSync().slice();
    y.dispose();
    return Buffer.from(d.buffer);
  };
  const w = bindWeights(c.stateDict, c.config, 'v2-tiny');
  const first = depth(w);
  // Every block's MLP kernels (and the head's convs) were packed and their heap copies freed.
  const mlp = c.config.depth * 2 * c.config.embedDim * c.config.embedDim * 4 * 4;
  expect(wasmFreedWeightBytes() - freedBefore).toBeGreaterThan(mlp);
  const backend = tf.backend() as unknown as { dataIdMap: { get(id: object): { memoryOffset: number } } };
  const fc1 = (w.pretrained as unknown as { blocks: Array<{ mlp: { fc1: { w: tf.Tensor } } }> }).blocks[0].mlp.fc1.w;
  expect(backend.dataIdMap.get(fc1.dataId).memoryOffset).toBe(0);
  expect(depth(w).equals(first)).toBe(true);
  // Taps unfuse activations; the freed kernels' operators are keyed without them, so this still runs from them.
  expect((await runParity(w, c.config, c.activations)).ok).toBe(true);
  // Another backend active would move the weights by reading their freed copies: refused instead.
  await tf.setBackend('cpu');
  expect(() => forward(w, c.config, x)).toThrow(/bound on wasm .* "cpu" backend active/);
  await tf.setBackend('wasm');
  disposeWeights(w);
  const w2 = bindWeights(c.stateDict, c.config, 'v2-tiny');
  expect(depth(w2).equals(first)).toBe(true);
  disposeWeights(w2);
  x.dispose();
  expect(tf.memory().numTensors).toBe(before);
});
