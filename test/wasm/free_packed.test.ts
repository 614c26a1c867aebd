/**
 * wasm: a conv weight's heap copy is freed once XNNPACK has packed it (src/backends/wasm_memory.ts
 * `freeWeightsOncePacked`). Later passes use the packed operators only: the same outputs, bit for
 * bit, tapped (parity) passes included, and disposing the model frees nothing twice.
 */
import * as tf from '@tensorflow/tfjs-core';
import { bindWeights, disposeWeights, forward } from '../../src/depth/depth_anything';
import { wasmFreedWeightBytes } from '../../src/backends/wasm_memory';
import { multipliedByGemm } from '../../src/backends/wasm_gemm';
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
  // The patch embedding's conv (3 input channels: left to XNNPACK) was packed by XNNPACK and its
  // heap copy freed; the Linear and head conv weights were not: the relaxed-SIMD kernel
  // (src/backends/wasm_gemm.ts) reads them on every product.
  const backend = tf.backend() as unknown as { dataIdMap: { get(id: object): { memoryOffset: number } } };
  const patch = w.pretrained.patchEmbed.proj.w;
  expect(backend.dataIdMap.get(patch.dataId).memoryOffset).toBe(0);
  expect(wasmFreedWeightBytes() - freedBefore).toBeGreaterThanOrEqual(patch.size * 4);
  const fc1 = (w.pretrained as unknown as { blocks: Array<{ mlp: { fc1: { w: tf.Tensor } } }> }).blocks[0].mlp.fc1.w;
  for (const kept of [fc1, w.depth_head.scratch.output_conv2[0].w]) {
    expect(multipliedByGemm(kept.dataId)).toBe(true);
    expect(backend.dataIdMap.get(kept.dataId).memoryOffset).toBeGreaterThan(0);
  }
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
