/**
 * Passes split to fit the backend, forced here by a small budget: the DPT head's full-resolution
 * stage in bands of rows (src/dpt/dpt_head.ts outputConvs), and, on the fused attention layout
 * (cpu, webgpu, webgl), the scores by head and query rows (src/dinov2/attention.ts). With them: every recorded tensor of the v2-tiny and v2-tiny-metric cases still
 * within the parity tolerance (the taps see the bands joined), the depth equal to one pass, and
 * no tensor left behind. The band height follows the budget (src/backends/limits.ts bandRows).
 */
import * as tf from '@tensorflow/tfjs-core';
import { bandRows, setBandBudgetForTesting } from '../../src/backends/limits';
import { bindWeights, disposeWeights, forward } from '../../src/depth/depth_anything';
import { outputBandTensors } from '../../src/dpt/dpt_head';
import { attentionChunks } from '../../src/dinov2/attention';
import { parityFromStateDict } from '../../src/verify/parity';
import { loadCase, useBackend } from '../helpers';

/** v2-tiny's input is 112x154 and its head 16 features: output_conv2.0's band [1, rows + 2, 154, 32] decides. */
const BUDGET = 4 * 12 * 154 * 32; // 10 rows a band: 11 full bands and a last one of 2

afterEach(() => setBandBudgetForTesting(undefined));

test('the band height is the largest whose tensors fit the budget (at least one row)', () => {
  setBandBudgetForTesting(BUDGET);
  const rows = bandRows((r) => outputBandTensors(1, r, 154, 16, 'wasm', false), 112);
  expect(rows).toBe(10);
  setBandBudgetForTesting(4 * 3 * 154 * 32 - 1);
  expect(bandRows((r) => outputBandTensors(1, r, 154, 16, 'wasm', false), 112)).toBe(1);
  setBandBudgetForTesting(undefined);
  expect(bandRows((r) => outputBandTensors(1, r, 518, 256, 'wasm', false), 518)).toBe(518); // ViT-L at 518 on wasm: one pass
});

test('attention is split by head, then by query rows, only when all heads\' scores do not fit', () => {
  setBandBudgetForTesting(4 * 2 * 89 * 89);
  expect(attentionChunks(1, 2, 89)).toEqual({ heads: 2, rows: 89 });
  setBandBudgetForTesting(4 * 89 * 89);
  expect(attentionChunks(1, 2, 89)).toEqual({ heads: 1, rows: 89 });
  setBandBudgetForTesting(4 * 89 * 20);
  expect(attentionChunks(1, 2, 89)).toEqual({ heads: 1, rows: 20 });
});

describe.each([['wasm', ['v2-tiny', 'v2-tiny-metric']], ['cpu', ['v2-tiny']]] as const)('banded head on %s', (backend, cases) => {
  beforeAll(async () => { await useBackend(backend); });

  test.each(cases)('%s: every recorded tensor within tolerance with 10-row bands', async (name) => {
    const c = await loadCase(name);
    setBandBudgetForTesting(BUDGET);
    const before = tf.memory().numTensors;
    const report = await parityFromStateDict(c.stateDict, c.config, c.activations, name);
    expect(tf.memory().numTensors).toBe(before);
    const failures = report.comparisons.filter((r) => !r.ok).map((r) => `${r.key}: relL2 ${r.relL2}`);
    expect(failures).toEqual([]);
    expect(report.comparisons.map((r) => r.key)).toEqual(expect.arrayContaining(['depth_head.scratch.output_conv2.0', 'depth_head.scratch.output_conv2.2', 'output']));
  });

  if (backend === 'cpu') {
    // The fused attention layout (wasm runs per head): v2-tiny's 89 tokens, 2 heads, 20 query rows a chunk.
    test('v2-tiny: every recorded tensor within tolerance with attention in 20-row chunks (and 1-row head bands)', async () => {
      const c = await loadCase('v2-tiny');
      setBandBudgetForTesting(4 * 89 * 20);
      const before = tf.memory().numTensors;
      const report = await parityFromStateDict(c.stateDict, c.config, c.activations, 'v2-tiny');
      expect(tf.memory().numTensors).toBe(before);
      expect(report.comparisons.filter((r) => !r.ok).map((r) => `${r.key}: relL2 ${r.relL2}`)).toEqual([]);
      expect(report.ok).toBe(true);
    });
    return; // the cpu backend is ~10x slower; the parity cases above cover its kernels
  }
  test('the banded depth equals one pass (bilinear rows by PyTorch\'s float32 weights: within 1e-5)', async () => {
    const c = await loadCase('v2-tiny');
    const w = bindWeights(c.stateDict, c.config, 'v2-tiny');
    const x = tf.randomUniform([1, 112, 154, 3], -2, 2, 'float32', 5) as tf.Tensor4D;
    try {
      const full = forward(w, c.config, x);
      const one = await full.array() as number[][][];
      full.dispose();
      setBandBudgetForTesting(BUDGET);
      const before = tf.memory().numTensors;
      const banded = forward(w, c.config, x);
      const b = await banded.array() as number[][][];
      banded.dispose();
      expect(tf.memory().numTensors).toBe(before);
      const flat = (a: number[][][]) => a.flat(2) as number[];
      const [p, q] = [flat(one), flat(b)];
      let num = 0, den = 0;
      for (let i = 0; i < p.length; i++) { num += (p[i] - q[i]) ** 2; den += p[i] ** 2; }
      expect(p.length).toBe(112 * 154);
      // Not bit-equal: the bands' rows use PyTorch's float32 weights, one pass tf.image's float64 positions.
      // Measured 5.1e-7 (> 0 shows the bands ran).
      expect(Math.sqrt(num / den)).toBeGreaterThan(0);
      expect(Math.sqrt(num / den)).toBeLessThan(1e-5);
    } finally {
      x.dispose();
      disposeWeights(w);
    }
  });
});
