/**
 * The fused wasm kernels (src/backends/wasm_kernels.ts) against the tfjs op chains they replace
 * and against double-precision references: GELU's erf within 1e-7 of the true erf, LayerNorm
 * within float32 rounding; the choice per backend; the composite form while a gradient tape
 * records; no leaks. The parity suites check them inside
 * whole models.
 */
import * as tf from '@tensorflow/tfjs-core';
import { blockGelu, blockLayerNorm, fusedElementwise, setFusedElementwise } from '../../src/backends/choices';
import { gelu } from '../../src/nn/activations';
import { layerNorm } from '../../src/nn/layer_norm';
import { registerTrainingKernels } from '../../src/backends/grad_kernels';
import { useBackend } from '../helpers';

/** erf to double precision (Abramowitz-Stegun 7.1.5 series / 7.1.14 continued fraction), for the reference GELU. */
function erfRef(x: number): number {
  const a = Math.abs(x);
  let r: number;
  if (a < 3) {
    // Maclaurin series: converges fast here.
    let term = a;
    let sum = a;
    for (let n = 1; n < 200; n++) {
      term *= (-a * a) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // erfc continued fraction, evaluated from the tail.
    let f = 0;
    for (let n = 60; n >= 1; n--) f = (n / 2) / (a + f);
    r = 1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + f);
  }
  return x < 0 ? -r : r;
}

const grid = (n: number, lo: number, hi: number) => tf.tensor1d(Float32Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1)));

describe('fused wasm kernels', () => {
  beforeAll(async () => useBackend('wasm'));
  afterEach(() => setFusedElementwise('wasm', true));

  test('chosen on wasm only', () => {
    expect(fusedElementwise('wasm')).toBe(true);
    for (const b of ['cpu', 'webgl', 'webgpu', 'tensorflow']) expect(fusedElementwise(b)).toBe(false);
  });

  test('each op runs as one fused kernel on wasm, as tfjs ops when switched off', async () => {
    const x = tf.randomNormal([3, 8], 0, 1, 'float32', 1);
    const p = { gamma: tf.ones([8]) as tf.Tensor1D, beta: tf.zeros([8]) as tf.Tensor1D };
    const kernels = async (f: () => tf.Tensor) => {
      const info = await tf.profile(() => f());
      tf.dispose(info.result as tf.Tensor);
      return info.kernels.map((k) => k.name);
    };
    expect(await kernels(() => blockGelu(x))).toEqual(['DepthAnythingGelu']);
    expect(await kernels(() => blockLayerNorm(x, p, 1e-6))).toEqual(['DepthAnythingLayerNorm']);
    setFusedElementwise('wasm', false);
    expect(await kernels(() => blockGelu(x))).toContain('Erf');
    tf.dispose([x, p.gamma, p.beta]);
  });

  test('GELU: within 1e-7 relative (1e-7 absolute near 0) of the exact erf GELU, and of the op chain', async () => {
    const x = grid(200001, -10, 10);
    const before = tf.memory().numTensors;
    const fused = tf.tidy(() => blockGelu(x));
    setFusedElementwise('wasm', false);
    const chain = tf.tidy(() => blockGelu(x));
    const [xs, f, c] = [await x.data(), await fused.data(), await chain.data()];
    tf.dispose([fused, chain]);
    expect(tf.memory().numTensors).toBe(before);
    let worstRef = 0;
    let worstChain = 0;
    for (let i = 0; i < xs.length; i++) {
      const v = xs[i];
      const ref = 0.5 * v * (1 + erfRef(v * Math.SQRT1_2));
      const scale = Math.max(1, Math.abs(v));
      worstRef = Math.max(worstRef, Math.abs(f[i] - ref) / scale);
      worstChain = Math.max(worstChain, Math.abs(f[i] - c[i]) / scale);
    }
    expect(worstRef).toBeLessThan(1e-7);
    expect(worstChain).toBeLessThan(3e-7);
    x.dispose();
  });

  test('LayerNorm: as the op chain within float32 rounding, any leading shape', async () => {
    const C = 48;
    const x = tf.add(tf.mul(tf.randomNormal([2, 37, C], 0, 1, 'float32', 3), 4), 7);
    const p = { gamma: tf.randomNormal([C], 1, 0.5, 'float32', 4) as tf.Tensor1D, beta: tf.randomNormal([C], 0, 1, 'float32', 5) as tf.Tensor1D };
    const before = tf.memory().numTensors;
    const fused = blockLayerNorm(x, p, 1e-6);
    const chain = tf.tidy(() => layerNorm(x, p, 1e-6));
    expect(fused.shape).toEqual([2, 37, C]);
    const [f, c] = [await fused.data(), await chain.data()];
    tf.dispose([fused, chain]);
    expect(tf.memory().numTensors).toBe(before);
    let worst = 0;
    for (let i = 0; i < f.length; i++) worst = Math.max(worst, Math.abs(f[i] - c[i]) / Math.max(1, Math.abs(c[i])));
    expect(worst).toBeLessThan(2e-6);
    tf.dispose([x, p.gamma, p.beta]);
  });

  test('a gradient tape gets the differentiable op chains', () => {
    registerTrainingKernels();
    const x = tf.tensor1d([-2, -0.5, 0.3, 1.7]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(blockGelu(t)))(x);
    const ref = tf.grad((t: tf.Tensor) => tf.sum(gelu(t)))(x);
    expect(Array.from(g.dataSync())).toEqual(Array.from(ref.dataSync()));
    tf.dispose([x, g, ref]);
  });
});
