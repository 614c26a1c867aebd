/**
 * The two attention layouts (per-head weights for wasm, fused qkv elsewhere) compute the same
 * thing, batches included (the parity fixtures only have batch 1), and the per-head path still
 * shows the parity tap the official qkv output.
 */
import * as tf from '@tensorflow/tfjs-core';
import { attention, loadAttention } from '../../src/dinov2/attention';
import { attentionLayout } from '../../src/backends/choices';
import { officialConfig } from '../../src/config/depth';
import { randomStateDict } from '../../src/verify/bench';
import { StateDictReader } from '../../src/weights/state_dict';
import { useBackend } from '../helpers';

const cfg = { ...officialConfig('v2', 'vits'), embedDim: 48, numHeads: 3, depth: 1, intermediateLayers: [0, 0, 0, 0] as [number, number, number, number] };
const KEY = 'pretrained.blocks.0.attn';

function maxDiff(a: Float32Array | Int32Array | Uint8Array, b: Float32Array | Int32Array | Uint8Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe.each(['wasm', 'cpu'] as const)('attention on %s', (backend) => {
  beforeAll(async () => useBackend(backend));

  test('layout is chosen per backend', () => {
    expect(attentionLayout(backend)).toBe(backend === 'wasm' ? 'perHead' : 'fused');
    expect(attentionLayout('tensorflow')).toBe('fused');
  });

  test('per-head and fused layouts agree on a batch of 2, taps included, without leaks', async () => {
    const sd = randomStateDict(cfg, 3);
    const fused = loadAttention(new StateDictReader(sd, 'r'), KEY, cfg, 'fused');
    const heads = loadAttention(new StateDictReader(sd, 'r'), KEY, cfg, 'perHead');
    expect(fused.qkv).toBeDefined();
    expect(heads.heads?.q).toHaveLength(3);
    const x = tf.randomNormal([2, 29, 48], 0, 1, 'float32', 11) as tf.Tensor3D;
    const before = tf.memory().numTensors;
    const taps: Record<string, Float32Array[]> = {};
    const tap = (name: string) => (k: string, t: tf.Tensor) => { (taps[k] ??= [])[name === 'fused' ? 0 : 1] = t.dataSync() as Float32Array; };
    const a = tf.tidy(() => attention(x, fused, tap('fused')));
    const b = tf.tidy(() => attention(x, heads, tap('heads')));
    const c = tf.tidy(() => attention(x, heads));
    expect(a.shape).toEqual([2, 29, 48]);
    expect(b.shape).toEqual([2, 29, 48]);
    const [da, db, dc] = [await a.data(), await b.data(), await c.data()];
    tf.dispose([a, b, c]);
    expect(tf.memory().numTensors).toBe(before);
    expect(maxDiff(da, db)).toBeLessThan(1e-5);
    expect(maxDiff(db, dc)).toBe(0); // the tap only observes
    const qkv = taps[`${KEY}.qkv`];
    expect(qkv[0]).toHaveLength(2 * 29 * 3 * 48);
    expect(maxDiff(qkv[0], qkv[1])).toBeLessThan(1e-5);
    tf.dispose([x, fused as unknown as tf.TensorContainer, heads as unknown as tf.TensorContainer] as tf.TensorContainer[]);
  });
});
