/**
 * The training pieces alone (cpu): losses against hand-computed values and PyTorch's conventions
 * (abs'(0) = 0, the lower median), AdamW against its formula (and parameters without a gradient
 * untouched), the schedules against the fixtures' recorded rates, the perturbations' edge cases,
 * and bad input: one clear error each.
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../helpers';
import { METRIC_RECIPE, RELATIVE_RECIPE } from '../../src/config/train';
import { adamwStep, disposeAdamW, newAdamWState } from '../../src/train/adamw';
import { absTorch, affineInvariantLoss, featureAlignmentLoss, medianPick, pairwiseSum, siLogLoss } from '../../src/train/losses';
import { adjustHue, cutmixMask, gaussianKernel1d } from '../../src/train/perturb';
import { lrAtStep } from '../../src/train/schedule';
import { permutation, samplePerturbation, seededRng } from '../../src/train/rng';
import { checkSameSize, crop, resizeNearest } from '../../src/train/transforms';
import { listTrainSamples } from '../../src/node/train_data';
import { registerTrainingKernels } from '../../src/backends/grad_kernels';

beforeAll(async () => {
  await useBackend('cpu');
  registerTrainingKernels();
});

describe('losses', () => {
  test('SiLog: sqrt(mean d^2 - lambda mean(d)^2) over the mask only', () => {
    const pred = tf.tensor2d([[1, 2], [4, 8]]);
    const target = tf.tensor2d([[2, 2], [1, 100]]);
    const mask = Uint8Array.from([1, 1, 1, 0]);
    const d = [Math.log(2), 0, Math.log(1 / 4)];
    const mean = d.reduce((a, b) => a + b) / 3;
    const meanSq = d.reduce((a, b) => a + b * b, 0) / 3;
    const loss = siLogLoss(pred, target, mask, 0.5);
    expect(loss.dataSync()[0]).toBeCloseTo(Math.sqrt(meanSq - 0.5 * mean * mean), 6);
    // The masked-out pixel gets no gradient (its log would be finite anyway here).
    const g = tf.grad((p: tf.Tensor) => siLogLoss(p, target, mask, 0.5))(pred).dataSync();
    expect(g[3]).toBe(0);
    tf.dispose([pred, target, loss]);
  });

  test('a prediction and target of different shapes, or an empty mask: one clear error', () => {
    const p = tf.zeros([2, 4, 4]);
    const t = tf.zeros([2, 4, 5]);
    expect(() => siLogLoss(p, t, new Uint8Array(32))).toThrow('SiLog loss: prediction [2, 4, 4] and target [2, 4, 5] must have the same shape');
    expect(() => siLogLoss(p, tf.ones([2, 4, 4]), new Uint8Array(32))).toThrow('no valid pixel');
    expect(() => affineInvariantLoss(tf.zeros([16]) as tf.Tensor1D, new Float32Array(16), new Float32Array(15), new Uint8Array(16).fill(1))).toThrow('prediction [16], target [15] and region [16] must have the same size');
    expect(() => featureAlignmentLoss(tf.zeros([2, 25, 24]), tf.zeros([2, 24, 24]), 0.85)).toThrow('feature alignment: prediction [2, 25, 24] and target [2, 24, 24] must have the same shape');
    tf.disposeVariables();
  });

  test('abs has PyTorch\'s gradient: sign(x), 0 at 0 (tfjs\'s Abs says -1 there)', () => {
    const g = tf.grad((x: tf.Tensor) => tf.sum(absTorch(x)))(tf.tensor1d([-2, 0, 3])).arraySync();
    expect(g).toEqual([-1, 0, 1]);
  });

  test('torch.median: the lower middle value for an even count, over the region only', () => {
    expect(medianPick([5, 1, 4, 2, 9, 3], Uint8Array.from([1, 1, 1, 1, 0, 1]))).toEqual({ position: 4, pixel: 5, count: 5 });
    expect(medianPick([5, 1, 4, 2], Uint8Array.from([1, 1, 1, 1])).pixel).toBe(3); // sorted 1 2 4 5: lower middle 2
  });

  test('rho is invariant to scale and shift of the prediction, and its gradient sums to zero', () => {
    const target = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) + i / 10);
    const pv = Float32Array.from({ length: 64 }, (_, i) => Math.cos(i * 0.7) + i / 9);
    const region = Uint8Array.from({ length: 64 }, (_, i) => (i % 7 ? 1 : 0));
    const rho = (v: Float32Array) => affineInvariantLoss(tf.tensor1d(v), v, target, region).loss.dataSync()[0];
    expect(rho(pv.map((x) => 3 * x + 5))).toBeCloseTo(rho(pv), 5);
    const g = tf.grad((x: tf.Tensor) => affineInvariantLoss(x as tf.Tensor1D, pv, target, region).loss)(tf.tensor1d(pv)).dataSync();
    expect(Math.abs(Array.from(g).reduce((a, b) => a + b, 0))).toBeLessThan(1e-6);
    expect(g.filter((_, i) => !region[i]).every((x) => x === 0)).toBe(true);
  });

  test('feature alignment leaves out tokens above the margin; none kept gives 0', () => {
    const f = tf.tensor3d([[[1, 0], [1, 1]]]);
    const frozen = tf.tensor3d([[[1, 0], [1, 0]]]); // cos 1 and 0.707
    const r = featureAlignmentLoss(f, frozen, 0.85);
    expect(Array.from(r.keep)).toEqual([0, 1]);
    expect(r.loss.dataSync()[0]).toBeCloseTo(1 - Math.SQRT1_2, 6);
    expect(featureAlignmentLoss(f, f, 0.85).loss.dataSync()[0]).toBe(0);
  });

  test('pairwiseSum is the sum', () => {
    expect(pairwiseSum(tf.range(0, 1001)).dataSync()[0]).toBe(500500);
  });
});

describe('AdamW and schedules', () => {
  test('AdamW matches the torch 1.13 formula over two steps; a parameter without a gradient is untouched', () => {
    const p = tf.variable(tf.tensor1d([0.5, -1, 2]), true, 'units/p');
    const q = tf.variable(tf.tensor1d([3]), true, 'units/q');
    const vars = new Map([['pretrained.p', p], ['head.q', q]]);
    const state = newAdamWState();
    const gs = [[0.1, -0.2, 0.3], [0.05, 0.1, -0.4]];
    const ref = [0.5, -1, 2];
    const m = [0, 0, 0];
    const v = [0, 0, 0];
    gs.forEach((g, k) => {
      const t = k + 1;
      const lr = 1e-3;
      adamwStep(vars, new Map([['pretrained.p', tf.tensor1d(g)]]), state, [lr, 10 * lr], METRIC_RECIPE.adamw, METRIC_RECIPE.groups);
      for (let i = 0; i < 3; i++) {
        ref[i] *= 1 - lr * 0.01;
        m[i] = 0.9 * m[i] + 0.1 * g[i];
        v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
        ref[i] -= (lr / (1 - 0.9 ** t)) * m[i] / (Math.sqrt(v[i]) / Math.sqrt(1 - 0.999 ** t) + 1e-8);
      }
    });
    Array.from(p.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(ref[i], 6));
    expect(q.dataSync()[0]).toBe(3);
    expect(state.step.has('head.q')).toBe(false);
    disposeAdamW(state);
    tf.dispose([p, q]);
  });

  test('poly (set after each step) and linear (set before) give the fixtures\' recorded rates', () => {
    const poly = [1, 2, 3].map((k) => lrAtStep(METRIC_RECIPE.schedule, 5e-6, k, 3));
    expect(poly[0]).toBe(5e-6);
    expect(poly[1]).toBe(5e-6);
    expect(poly[2]).toBe(3.4712658133080355e-06);
    expect([1, 2].map((k) => lrAtStep(RELATIVE_RECIPE.schedule, 5e-6, k, 4))).toEqual([5e-6, 3.7500000000000005e-06]);
  });
});

describe('seeded sampling', () => {
  test('the same seed gives the same choices, inside the recipe\'s ranges', () => {
    const pr = RELATIVE_RECIPE.perturbations;
    const draw = (seed: number) => { const r = seededRng(seed); return Array.from({ length: 50 }, (_, j) => samplePerturbation(r, 70, (j + 1) % 2, pr)); };
    const a = draw(7);
    expect(draw(7)).toEqual(a);
    expect(draw(8)).not.toEqual(a);
    for (const p of a) {
      if (p.jitter) {
        expect([...p.jitter.order].sort()).toEqual([0, 1, 2, 3]);
        expect(p.jitter.hue).toBeGreaterThanOrEqual(-0.25);
        expect(p.jitter.hue).toBeLessThan(0.25);
      }
      if (p.blur) expect(p.blur.kernel).toBe(2 * Math.ceil(3 * p.blur.sigma) + 1);
      if (p.cutmix) {
        expect(p.cutmix.x + p.cutmix.w).toBeLessThanOrEqual(70);
        expect(p.cutmix.y + p.cutmix.h).toBeLessThanOrEqual(70);
        expect(p.cutmix.w * p.cutmix.h).toBeLessThanOrEqual(0.4 * 70 * 70);
      }
    }
    // Every kind of choice both ways in 50 draws.
    for (const k of ['jitter', 'blur', 'cutmix'] as const) expect(new Set(a.map((p) => k in p)).size).toBe(2);
    expect([...permutation(seededRng(1), 10)].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe('transforms and data', () => {
  test('cv2 INTER_NEAREST source indices (150 -> 112 columns)', () => {
    const d = { data: Float32Array.from({ length: 150 }, (_, i) => i), width: 150, height: 1 };
    const out = resizeNearest(d, 112, 1).data;
    expect(Array.from(out.slice(0, 4))).toEqual([0, 1, 2, 4]);
    expect(out[111]).toBe(148);
  });

  test('a crop outside the image, and an image and depth of different sizes, are refused', () => {
    expect(() => crop({ data: new Float32Array(10 * 8 * 3), width: 10, height: 8, channels: 3 }, 0, 3, 8)).toThrow('crop 8x8 at (0, 3) does not fit a 10x8 image');
    expect(() => checkSameSize({ width: 150, height: 100 }, { width: 150, height: 99 }, 'd.png')).toThrow('d.png: the depth map is 150x99, the image 150x100');
  });

  test('hue rotation by 0 keeps the colours; CutMix box covers h x w pixels', () => {
    const img = { data: Float32Array.from([0.2, 0.4, 0.6, 1, 0, 0]), width: 2, height: 1, channels: 3 };
    Array.from(adjustHue(img, 0).data).forEach((x, i) => expect(x).toBeCloseTo(img.data[i], 6));
    expect(cutmixMask({ partner: 0, y: 2, x: 1, h: 3, w: 4 }, 8).reduce((a, b) => a + b, 0)).toBe(12);
    expect(gaussianKernel1d(9, 1.2778758700750497).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
  });

  test('a dataset folder with a missing depth file, and a file list naming one: one clear line', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'train-data-'));
    await fs.mkdir(path.join(dir, 'image'));
    await fs.mkdir(path.join(dir, 'depth'));
    await fs.writeFile(path.join(dir, 'image', 'a.png'), '');
    await fs.writeFile(path.join(dir, 'image', 'b.png'), '');
    await fs.writeFile(path.join(dir, 'depth', 'a.png'), '');
    await expect(listTrainSamples(dir)).rejects.toThrow(`${dir}: image/ and depth/ do not match: 1 image(s) without ground truth (depth/NAME.png or .npy): image/b.png`);
    const list = path.join(dir, 'filelist.txt');
    await fs.writeFile(list, 'image/a.png depth/a.png\nimage/b.png depth/b.png\n');
    await expect(listTrainSamples(list)).rejects.toThrow(`${list}:2: depth file not found: ${path.join(dir, 'depth', 'b.png')}`);
    await fs.rm(dir, { recursive: true });
  });
});

describe('divergence', () => {
  test('the first gradient holding NaN or inf is named; finite ones pass; nothing is left behind', async () => {
    const { firstNonFiniteGrad } = await import('../../src/node/train_run');
    const before = tf.memory().numTensors;
    const grads = new Map<string, tf.Tensor>([['a.weight', tf.tensor1d([1, -2])], ['b.bias', tf.tensor1d([0, Infinity])], ['c.bias', tf.tensor1d([NaN])]]);
    expect(await firstNonFiniteGrad(grads)).toBe('b.bias');
    grads.get('b.bias')!.dispose();
    grads.delete('b.bias');
    expect(await firstNonFiniteGrad(grads)).toBe('c.bias');
    grads.get('c.bias')!.dispose();
    grads.delete('c.bias');
    expect(await firstNonFiniteGrad(grads)).toBeUndefined();
    tf.dispose([...grads.values()]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
