/**
 * The general paths of the Depth Anything 3 net that the visible fixtures do not take, on seeded
 * random weights (cpu): 3+ views (reference-view selection, reordering and restoring), one view,
 * known cameras (CameraEnc), the giant layout (SwiGLU, odd alt_start), the camera math; no leaks.
 */
import * as tf from '@tensorflow/tfjs-core';
import { da3Forward, disposeDa3Weights, Da3Output } from '../../src/da3/da3';
import { affineInverse4, matToQuat, normalizeExtrinsics, poseEncoding, quatToMat } from '../../src/da3/utils/transform';
import { reorderIndices, restoreIndices } from '../../src/da3/reference_view_selector';
import { setScoreChunkElements } from '../../src/dinov2/attention';
import { useBackend } from '../helpers';
import { randomInput, rng, syntheticWeights, tinyConfig } from './synthetic';

beforeAll(() => useBackend('cpu'));

const read = (o: Da3Output) => ({
  depth: o.depth.arraySync() as number[][][][],
  ext: o.extrinsics?.arraySync() as number[][][][] | undefined,
});
const dispose = (o: Da3Output) => tf.dispose(o as unknown as tf.TensorContainer);
const maxDiff = (a: number[], b: number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

/** A rotation about an axis and a translation, as a row-major 4x4 world-to-camera. */
function pose(seed: number): number[] {
  const r = rng(seed);
  const q = [r() - 0.5, r() - 0.5, r() - 0.5, r() + 0.5];
  const R = tf.tidy(() => quatToMat(tf.tensor1d(q)).dataSync());
  return [R[0], R[1], R[2], r() * 2 - 1, R[3], R[4], R[5], r() * 2 - 1, R[6], R[7], R[8], r() * 2 - 1, 0, 0, 0, 1];
}

describe('Depth Anything 3: paths beyond the fixtures', () => {
  test('3 views: the reference view is moved first for the global blocks and the outputs come back in input order', () => {
    const cfg = tinyConfig();
    const w = syntheticWeights(cfg);
    const x = randomInput(3, 28, 42);
    const before = tf.memory().numTensors;
    // 'middle' picks view 1: the blocks see [1, 0, 2]. 'first' on the views given as [1, 0, 2] sees the same.
    const a = da3Forward(w, cfg, x, { refViewStrategy: 'middle' });
    const swapped = tf.gather(x, [1, 0, 2], 1);
    const b = da3Forward(w, cfg, swapped, { refViewStrategy: 'first' });
    const ra = read(a);
    const rb = read(b);
    let same = 0;
    for (const [i, j] of [[0, 1], [1, 0], [2, 2]]) {
      same = Math.max(same, maxDiff(ra.depth[0][i].flat(), rb.depth[0][j].flat()), maxDiff(ra.ext![0][i].flat(), rb.ext![0][j].flat()));
    }
    expect(same).toBeLessThan(1e-5);
    // Without the reordering, view 1 would get the source camera token: the outputs differ far more.
    const c = da3Forward(w, cfg, x, { refViewStrategy: 'first' });
    const rc = read(c);
    const other = Math.max(maxDiff(rc.depth[0][1].flat(), ra.depth[0][1].flat()), maxDiff(rc.ext![0][1].flat(), ra.ext![0][1].flat()));
    expect(other).toBeGreaterThan(100 * Math.max(same, 1e-7));
    const s = da3Forward(w, cfg, x); // saddle_balanced: runs, finite
    expect(s.depth.shape).toEqual([1, 3, 28, 42]);
    expect(tf.tidy(() => tf.all(tf.isFinite(s.depth)).dataSync()[0])).toBe(1);
    [a, b, c, s].forEach(dispose);
    swapped.dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    disposeDa3Weights(w);
  });

  test('reorder and restore indices are inverses, reference first', () => {
    for (const S of [3, 5]) {
      for (let r = 0; r < S; r++) {
        const ref = tf.tensor1d([r], 'int32');
        const order = reorderIndices(ref, S).arraySync();
        const restore = restoreIndices(ref, S).arraySync();
        expect(order[0]).toBe(r);
        expect(order.filter((v, i) => i > 0)).toEqual([...Array(S).keys()].filter((v) => v !== r));
        expect(restore.map((i) => order[i])).toEqual([...Array(S).keys()]);
        ref.dispose();
      }
    }
  });

  test('one view, the giant layout (SwiGLU FFN, odd alt_start), known cameras: every output of the right shape, finite', () => {
    const giant = tinyConfig({ name: 'vitg', depth: 7, alt: 3, outLayers: [3, 4, 5, 6] });
    const w = syntheticWeights(giant, 3);
    expect(w.backbone.blocks[0].mlp.kind).toBe('swiglu');
    const before = tf.memory().numTensors;
    for (const views of [1, 3]) {
      const x = randomInput(views, 28, 28, views);
      const o = da3Forward(w, giant, x);
      expect(o.depth.shape).toEqual([1, views, 28, 28]);
      expect(o.depthConf!.shape).toEqual([1, views, 28, 28]);
      expect(o.ray!.shape).toEqual([1, views, 16, 16, 6]);
      expect(o.extrinsics!.shape).toEqual([1, views, 3, 4]);
      expect(o.intrinsics!.shape).toEqual([1, views, 3, 3]);
      expect(tf.tidy(() => tf.all(tf.isFinite(o.depth)).dataSync()[0])).toBe(1);
      dispose(o);
      x.dispose();
    }
    // Known cameras: CameraEnc's tokens replace the camera token (and no reference view is chosen).
    const x = randomInput(3, 28, 28, 5);
    const ext = [pose(1), pose(2), pose(3)].flat();
    const K = [0, 1, 2].flatMap(() => [30, 0, 14, 0, 32, 14, 0, 0, 1]);
    const cams = { extrinsics: normalizeExtrinsics(ext, 3), intrinsics: K };
    const withCams = da3Forward(w, giant, x, { cameras: cams });
    const without = da3Forward(w, giant, x);
    expect(maxDiff(withCams.depth.dataSync() as unknown as number[], without.depth.dataSync() as unknown as number[])).toBeGreaterThan(1e-4);
    [withCams, without].forEach(dispose);
    x.dispose();
    expect(tf.memory().numTensors).toBe(before);
    disposeDa3Weights(w);
  });

  test.each(['cpu', 'wasm'] as const)('%s: attention scores in chunks (images a few at a time, global queries in row chunks) compute what whole ones compute, no leaks', async (backend) => {
    await useBackend(backend);
    const cfg = tinyConfig({ depth: 4, outLayers: [0, 1, 2, 3] });
    const w = syntheticWeights(cfg, 5);
    const x = randomInput(2, 28, 28, 5); // 2 views of 5 tokens: 10 global tokens
    const before = tf.memory().numTensors;
    const whole = da3Forward(w, cfg, x);
    // 40 elements: plain blocks one view at a time, local RoPE blocks (cpu) and the global block 4 query rows at a time.
    const old = setScoreChunkElements(40);
    let chunked: Da3Output;
    try { chunked = da3Forward(w, cfg, x); } finally { setScoreChunkElements(old); }
    const [a, b] = [read(whole), read(chunked)];
    expect(maxDiff(a.depth.flat(3), b.depth.flat(3))).toBeLessThan(1e-6);
    expect(maxDiff(a.ext!.flat(3), b.ext!.flat(3))).toBeLessThan(1e-6);
    [whole, chunked].forEach(dispose);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    disposeDa3Weights(w);
    await useBackend('cpu');
  });

  test('more views than the head\'s chunk: the head runs per chunk (one view at a time) and computes what one pass computes', () => {
    const cfg = tinyConfig({ mono: true, depth: 4, outLayers: [0, 1, 2, 3] });
    const w = syntheticWeights(cfg, 9);
    const x = randomInput(9, 14, 28, 9);
    const before = tf.memory().numTensors;
    const chunked = da3Forward(w, cfg, x);
    const whole = da3Forward(w, cfg, x, { tap: () => undefined }); // tapping runs the head once over all views
    expect(chunked.depth.shape).toEqual([1, 9, 14, 28]);
    expect(maxDiff(Array.from(chunked.depth.dataSync()), Array.from(whole.depth.dataSync()))).toBe(0);
    expect(maxDiff(Array.from(chunked.sky!.dataSync()), Array.from(whole.sky!.dataSync()))).toBe(0);
    [chunked, whole].forEach(dispose);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    disposeDa3Weights(w);
  });

  test('camera math: the pose encoding inverts quat_to_mat; normalisation makes view 0 the identity, median distance 1', () => {
    const m = pose(11);
    const c2w = affineInverse4(m);
    const enc = poseEncoding(c2w, [40, 0, 20, 0, 50, 15, 0, 0, 1], 30, 40);
    const R = quatToMat(tf.tensor1d(enc.slice(3, 7))).dataSync();
    expect(maxDiff(Array.from(R), [c2w[0], c2w[1], c2w[2], c2w[4], c2w[5], c2w[6], c2w[8], c2w[9], c2w[10]])).toBeLessThan(1e-6);
    expect(enc[7]).toBeCloseTo(2 * Math.atan(15 / 50), 12);
    expect(enc[8]).toBeCloseTo(2 * Math.atan(20 / 40), 12);
    expect(matToQuat([1, 0, 0, 0, 1, 0, 0, 0, 1])).toEqual([0, 0, 0, 1]);
    const norm = normalizeExtrinsics([pose(1), pose(2), pose(3)].flat(), 3);
    expect(maxDiff(Array.from(norm.slice(0, 16)), [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1])).toBeLessThan(1e-6);
    const dists = [0, 1, 2].map((v) => { const c = affineInverse4(norm.slice(v * 16, v * 16 + 16)); return Math.hypot(c[3], c[7], c[11]); }).sort((p, q) => p - q);
    expect(dists[1]).toBeCloseTo(1, 12);
  });
});
