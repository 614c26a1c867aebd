/**
 * Child process of gemm.test.ts (the heap it grows never shrinks): the relaxed-SIMD kernels on
 * operands past 2 GiB in the heap, where offsets no longer fit a signed 32-bit integer. Fills the
 * heap past 2 GiB first, then computes a product, a convolution, fc1 + GELU, LayerNorm and
 * LayerScale + residual (every operand, output and scratch buffer above 2 GiB), the same on the
 * cpu backend, and prints the lowest operand offset and the largest relative difference as JSON.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backends/node';
import { blockLayerNorm, blockLinearGelu, blockScaleAdd } from '../../src/backends/choices';

const ops = (s: number, seen: (ts: tf.Tensor[]) => void): Float32Array[] => tf.tidy(() => {
  const x = tf.randomNormal([1, 33, 40, 64], 0, 1, 'float32', s) as tf.Tensor4D;
  const f = tf.randomNormal([3, 3, 64, 48], 0, 0.1, 'float32', s + 1) as tf.Tensor4D;
  const t = tf.reshape(x, [66, 1280]);
  const w = tf.randomNormal([1280, 512], 0, 0.03, 'float32', s + 2) as tf.Tensor2D;
  const b = tf.randomNormal([512], 0, 0.1, 'float32', s + 3) as tf.Tensor1D;
  const g = tf.randomNormal([1280], 1, 0.1, 'float32', s + 4) as tf.Tensor1D;
  const beta = tf.randomNormal([1280], 0, 0.1, 'float32', s + 5) as tf.Tensor1D;
  const outs = [tf.matMul(t, w), tf.conv2d(x, f, 1, 1), blockLinearGelu(t, { w, b }), blockLayerNorm(t, { gamma: g, beta }, 1e-6), blockScaleAdd(t, t, g)];
  seen([x, f, w, b, g, ...outs]);
  return outs.map((y) => y.dataSync() as Float32Array);
});

(async () => {
  await initBackend('wasm', { threads: 2 });
  const backend = tf.backend() as unknown as { dataIdMap: { get(id: object): { memoryOffset: number } } };
  // One allocation past 2 GiB before anything else: every later one lies above it.
  const filler = tf.zeros([Math.floor((2 ** 31 + 2 ** 26) / 4)]);
  let lowest = 0;
  const high = ops(5, (ts) => { lowest = Math.min(...ts.map((t) => backend.dataIdMap.get(t.dataId).memoryOffset)); });
  filler.dispose();
  await tf.setBackend('cpu');
  const ref = ops(5, () => undefined);
  let worst = 0;
  ref.forEach((a, i) => a.forEach((v, j) => { worst = Math.max(worst, Math.abs(v - high[i][j]) / Math.max(1, Math.abs(v))); }));
  console.log(JSON.stringify({ lowest, worst, n: ref.length }));
})();
