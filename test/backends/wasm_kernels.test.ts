/**
 * The fused wasm kernels (src/backends/wasm_kernels.ts), both their WebAssembly versions (float32,
 * installed with src/backends/wasm_gemm.ts) and their JavaScript ones (double precision), against
 * the tfjs op chains they replace and against double-precision references: GELU within 1e-7
 * (JavaScript) and two float32 ulps (WebAssembly) of the exact erf GELU, LayerNorm and LayerScale
 * + residual within float32 rounding, fc1 + GELU as one product; the choice per backend; the
 * composite form while a gradient tape records; no leaks. The parity suites check them inside
 * whole models.
 */
import * as tf from '@tensorflow/tfjs-core';
import { blockGelu, blockLayerNorm, blockLinearGelu, blockScaleAdd, fusedElementwise, setFusedElementwise } from '../../src/backends/choices';
import { WasmRowKernels, setWasmRowKernels, wasmRowKernelsInstalled } from '../../src/backends/wasm_kernels';
import { linear } from '../../src/nn/linear';
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

/**
 * `fused` against `chain` (both disposed here; no tensor left behind): the largest difference
 * relative to max(1, |chain|).
 */
async function worstAgainst(fused: tf.Tensor, chain: tf.Tensor, before: number): Promise<number> {
  const [f, c] = [await fused.data(), await chain.data()];
  tf.dispose([fused, chain]);
  expect(tf.memory().numTensors).toBe(before);
  let worst = 0;
  for (let i = 0; i < f.length; i++) worst = Math.max(worst, Math.abs(f[i] - c[i]) / Math.max(1, Math.abs(c[i])));
  return worst;
}

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

  /** The JavaScript versions while `f` runs (the WebAssembly ones put back after). */
  const inJavaScript = async (f: () => Promise<void>): Promise<void> => {
    const wasm = setWasmRowKernels(undefined) as WasmRowKernels;
    try {
      await f();
    } finally {
      setWasmRowKernels(wasm);
    }
  };

  test('the WebAssembly versions are installed with the relaxed-SIMD products', () => {
    expect(wasmRowKernelsInstalled()).toBe(true);
  });

  test.each([['WebAssembly, float32', 2.5e-7], ['JavaScript, double', 1e-7]])('GELU (%s): within %s relative (absolute near 0) of the exact erf GELU, and of the op chain', async (path, tol) => {
    if (path.startsWith('JavaScript')) return inJavaScript(() => checkGelu(tol as number));
    return checkGelu(tol as number);
  });
  async function checkGelu(tol: number): Promise<void> {
    setFusedElementwise('wasm', true);
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
    expect(worstRef).toBeLessThan(tol);
    expect(worstChain).toBeLessThan(3e-7);
    x.dispose();
  }

  test.each([['WebAssembly'], ['JavaScript']])('LayerNorm (%s): as the op chain within float32 rounding, any leading shape', async (path) => {
    if (path === 'JavaScript') return inJavaScript(checkLayerNorm);
    return checkLayerNorm();
  });
  async function checkLayerNorm(): Promise<void> {
    const C = 50; // not a multiple of 4: the vector loops' scalar tails run
    setFusedElementwise('wasm', true);
    const x = tf.add(tf.mul(tf.randomNormal([2, 37, C], 0, 1, 'float32', 3), 4), 7);
    const p = { gamma: tf.randomNormal([C], 1, 0.5, 'float32', 4) as tf.Tensor1D, beta: tf.randomNormal([C], 0, 1, 'float32', 5) as tf.Tensor1D };
    const before = tf.memory().numTensors;
    const fused = blockLayerNorm(x, p, 1e-6);
    const chain = tf.tidy(() => layerNorm(x, p, 1e-6));
    expect(fused.shape).toEqual([2, 37, C]);
    const worst = await worstAgainst(fused, chain, before);
    expect(worst).toBeLessThan(2e-6);
    tf.dispose([x, p.gamma, p.beta]);
  }

  test.each([['WebAssembly'], ['JavaScript']])('LayerScale + residual (%s): x + y g as the two ops, within one rounding', async (path) => {
    const run = async () => {
      const C = 37;
      const x = tf.randomNormal([3, 11, C], 0, 1, 'float32', 6);
      const y = tf.randomNormal([3, 11, C], 0, 1, 'float32', 7);
      const g = tf.randomNormal([C], 0, 0.1, 'float32', 8);
      const before = tf.memory().numTensors;
      const fused = blockScaleAdd(x, y, g);
      const chain = tf.tidy(() => tf.add(x, tf.mul(y, g)));
      const worst = await worstAgainst(fused, chain, before);
      expect(worst).toBeLessThan(3e-7);
      tf.dispose([x, y, g]);
    };
    return path === 'JavaScript' ? inJavaScript(run) : run();
  });

  test('fc1 + GELU: one product (DepthAnythingMatMulGelu), as the product then GELU', async () => {
    const x = tf.randomNormal([2, 21, 24], 0, 1, 'float32', 9);
    const p = { w: tf.randomNormal([24, 40], 0, 0.3, 'float32', 10) as tf.Tensor2D, b: tf.randomNormal([40], 0, 0.3, 'float32', 11) as tf.Tensor1D };
    const before = tf.memory().numTensors;
    const info = await tf.profile(() => blockLinearGelu(x, p));
    const fused = info.result as tf.Tensor;
    expect(info.kernels.map((k) => k.name)).toContain('DepthAnythingMatMulGelu');
    expect(fused.shape).toEqual([2, 21, 40]);
    const chain = tf.tidy(() => blockGelu(linear(x, p)));
    const worst = await worstAgainst(fused, chain, before);
    expect(worst).toBeLessThan(1e-6);
    tf.dispose([x, p.w, p.b]);
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
