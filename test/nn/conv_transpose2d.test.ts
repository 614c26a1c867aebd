/** Depth-to-space as tfjs's op (cpu) and as one transpose (wasm) give the same result. */
import * as tf from '@tensorflow/tfjs-core';
import { depthToSpace } from '../../src/nn/conv_transpose2d';
import { useBackend } from '../helpers';

describe.each(['wasm', 'cpu'] as const)('depthToSpace on %s', (backend) => {
  beforeAll(async () => useBackend(backend));

  test.each([[2, 3], [4, 5]])('k=%i, C=%i, batch 2: equals tf.depthToSpace (DCR, NHWC), no leaks', async (k, C) => {
    const y = tf.tensor4d(Float32Array.from({ length: 2 * 3 * 4 * k * k * C }, (_, i) => i), [2, 3, 4, k * k * C]);
    const before = tf.memory().numTensors;
    const ours = depthToSpace(y, k);
    const ref = tf.depthToSpace(y, k, 'NHWC');
    expect(ours.shape).toEqual([2, 3 * k, 4 * k, C]);
    expect(Array.from(await ours.data())).toEqual(Array.from(await ref.data()));
    tf.dispose([ours, ref]);
    expect(tf.memory().numTensors).toBe(before);
    y.dispose();
  });
});
