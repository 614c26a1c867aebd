import { readFileSync } from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { zoeDepthHeadShapes } from '../src/zoedepth/zoedepth_v1';
import { countFlops, median, officialShapes, randomStateDict, runBench, stagedForward } from '../src/verify/bench';
import { VARIANTS, configFromJson, officialConfig } from '../src/config/depth';
import { bindWeights, disposeWeights, forward } from '../src/depth/depth_anything';
import { parseSafetensors } from '../src/io/safetensors';
import { PARITY_CASES, caseDir, useBackend } from './helpers';

const caseConfig = (name: string) => configFromJson(JSON.parse(readFileSync(path.join(caseDir(name), 'config.json'), 'utf8')), name);

beforeAll(async () => useBackend('cpu'));

describe('random weights', () => {
  test.each([...PARITY_CASES])('%s: the keys and shapes of the official checkpoint, no more, no less', (name) => {
    const file = parseSafetensors(readFileSync(path.join(caseDir(name), 'weights.safetensors')), name);
    const expected = [...file.tensors].map(([k, e]) => [k, e.shape] as [string, number[]]).sort(([a], [b]) => a.localeCompare(b));
    const ours = officialShapes(caseConfig(name)).sort(([a], [b]) => a.localeCompare(b));
    expect(ours).toEqual(expected);
  });

  test('bind strictly, are seeded, and keep a deep network finite and non-trivial', async () => {
    const cfg = caseConfig('v2-tiny-giantlike'); // 40 blocks, SwiGLU, BatchNorm, class-token readout
    const a = randomStateDict(cfg, 7);
    const b = randomStateDict(cfg, 7);
    const key = 'pretrained.blocks.3.attn.qkv.weight';
    expect(a.get(key)!.data).toEqual(b.get(key)!.data);
    expect(randomStateDict(cfg, 8).get(key)!.data).not.toEqual(a.get(key)!.data);
    for (const [k, t] of a) if (/running_var$/.test(k)) expect(Math.min(...t.data)).toBeGreaterThan(0);
    const w = bindWeights(a, cfg, 'random');
    const y = forward(w, cfg, tf.randomNormal([1, 56, 42, 3], 0, 1, 'float32', 3) as tf.Tensor4D);
    const d = await y.data();
    tf.dispose(y);
    disposeWeights(w);
    expect(d.every(Number.isFinite)).toBe(true);
    expect(Math.max(...d)).toBeGreaterThan(0);
  });
});

describe('FLOP count', () => {
  test('V2-S at 518x518: 115.3 GFLOP, encoder 93.4, head 21.9 (the issue\'s independent count)', () => {
    const f = countFlops(officialConfig('v2', 'vits'), 518, 518);
    expect(f.encoder / 1e9).toBeCloseTo(93.4, 1);
    expect(f.head / 1e9).toBeCloseTo(21.9, 1);
    expect(f.total / 1e9).toBeCloseTo(115.3, 1);
    expect(f.blocksRun).toBe(12);
    expect(countFlops(officialConfig('v2', 'vits'), 518, 518, 2).total).toBe(2 * f.total);
  });

  test('only the blocks up to the last intermediate layer are counted; attention grows with N^2', () => {
    const cfg = { ...officialConfig('v2', 'vits'), intermediateLayers: [0, 1, 2, 5] as [number, number, number, number] };
    expect(countFlops(cfg, 518, 518).blocksRun).toBe(6);
    const small = countFlops(officialConfig('v2', 'vits'), 252, 252).block; // N = 325
    expect(small.scores).toBe(2 * 325 * 325 * 384);
    expect(small.qkv).toBe(2 * 325 * 384 * 1152);
  });

  test('V1 metric: the ZoeDepth head counted from its weights\' shapes, each at the pixels its level runs at', () => {
    const cfg = VARIANTS['v1-metric-indoor'];
    const [H, W, h, w] = [392, 518, 28, 37];
    const level = (key: string): number => {
      if (/^(conv2|seed_)/.test(key)) return Math.ceil(h / 2) * Math.ceil(w / 2); // l4_rn: the stride-2 level
      const m = /^(projectors|attractors)\.(\d)\./.exec(key);
      if (m) return 4 ** Number(m[2]) * h * w; // r4..r1: x1, x2, x4, x8 the patch grid
      return H * W; // conditional_log_binomial: out_conv's pixels
    };
    const fromShapes = zoeDepthHeadShapes(cfg, cfg.zoe).filter(([k, s]) => k.endsWith('.weight') && s.length === 4)
      .reduce((a, [k, s]) => a + 2 * level(k) * s[0] * s[1], 0);
    const f = countFlops(cfg, H, W);
    expect(f.zoe).toBe(fromShapes);
    expect(f.total).toBe(f.encoder + f.head + f.zoe);
    expect(countFlops(VARIANTS['v1-vitl'], H, W).zoe).toBe(0);
  });

  test('median', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
  });
});

describe('timing', () => {
  test('the staged pass computes what forward computes, and leaves no tensor behind', async () => {
    const cfg = caseConfig('v2-tiny-metric');
    const w = bindWeights(randomStateDict(cfg), cfg, 'random');
    const x = tf.randomNormal([1, 42, 56, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const { stages, depth } = await stagedForward(w, cfg, x);
    const ref = forward(w, cfg, x);
    const [a, b] = [await depth.data(), await ref.data()];
    tf.dispose([depth, ref]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(x);
    disposeWeights(w);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(stages.map((s) => s.name)).toEqual([
      'patch embedding + position', 'block 0: norm1', 'block 0: attention', 'block 0: ls1 + residual', 'block 0: norm2',
      'block 0: ffn', 'block 0: ls2 + residual', `blocks (${Math.max(...cfg.intermediateLayers) + 1})`, 'final norm (4 layers)',
      'head: readout, projects, resize', 'head: layer1-4_rn', 'head: refinenet4', 'head: refinenet3', 'head: refinenet2',
      'head: refinenet1', 'head: output convs',
    ]);
    for (const s of stages) expect(s.ms).toBeGreaterThanOrEqual(0);
  });

  test('runBench: runs, statistics, FLOP rate; no tensor left behind', async () => {
    const cfg = caseConfig('v2-tiny');
    const before = tf.memory().numTensors;
    const seen: number[] = [];
    const r = await runBench(cfg, { height: 28, width: 42, runs: 3, warmup: 1, onRun: (i) => seen.push(i) });
    expect(tf.memory().numTensors).toBe(before);
    expect(seen).toEqual([0, 1, 2]);
    expect(r.timesMs).toHaveLength(3);
    expect(r.cpuMs).toHaveLength(3);
    for (const c of r.cpuMs) expect(c).toBeGreaterThan(0);
    expect(r.warmupMs).toHaveLength(1);
    expect(r.minMs).toBeLessThanOrEqual(r.medianMs);
    expect(r.medianMs).toBeLessThanOrEqual(r.maxMs);
    expect(r.medianMs).toBe(median(r.timesMs));
    expect(r.flops.total).toBe(countFlops(cfg, 28, 42).total);
    expect(r.gflops).toBeCloseTo(r.flops.total / r.medianMs / 1e6, 6);
    expect(r.params).toBe(officialShapes(cfg).reduce((s, [, shape]) => s + shape.reduce((a, b) => a * b, 1), 0));
    expect(r.backend).toBe('cpu');
    expect(r.stages).toHaveLength(16);
  });

  test('bad sizes and counts are clear errors', async () => {
    const cfg = caseConfig('v2-tiny');
    await expect(runBench(cfg, { height: 30, width: 28, runs: 1 })).rejects.toThrow('height must be a positive multiple of the patch size 14; got 30');
    await expect(runBench(cfg, { height: 28, width: 28, runs: 0 })).rejects.toThrow('runs must be a positive integer; got 0');
  });
});
