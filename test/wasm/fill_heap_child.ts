/**
 * Child process of memory.test.ts (a wasm module that ran out of memory cannot be trusted again):
 * binds v2-tiny on wasm, fills the heap to within 8 MiB of its 4 GiB limit with one tensor, runs
 * one pass and prints what it threw as JSON.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backends/node';
import { bindWeights, forward } from '../../src/depth/depth_anything';
import { WASM_MAX_HEAP } from '../../src/backends/wasm_memory';
import { loadCase } from '../helpers';

(async () => {
  await initBackend('wasm', { threads: 1 });
  const c = await loadCase('v2-tiny');
  const w = bindWeights(c.stateDict, c.config, c.name);
  const heap = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength;
  tf.zeros([Math.floor((WASM_MAX_HEAP - 2 ** 16 - heap() - 8 * 2 ** 20) / 4)]);
  try {
    forward(w, c.config, tf.zeros([1, 518, 518, 3]) as tf.Tensor4D);
    console.log(JSON.stringify({ threw: false }));
  } catch (e) {
    console.log(JSON.stringify({ threw: true, message: (e as Error).message }));
  }
})();
