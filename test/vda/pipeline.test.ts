/** The pure parts of the VDA pipeline: the aspect rule, numpy's float32 sums, the fit, the blend. */
import { vdaInputSize } from '../../src/pipeline/vda_video';
import { computeScaleAndShift, interpolateFrames, numpySumF32 } from '../../src/pipeline/vda_align';
import { resolveVdaConfig, vdaMetricFromFileName } from '../../src/weights/vda_detect';
import { StreamCacheList } from '../../src/pipeline/vda_stream';

describe('VDA pipeline arithmetic', () => {
  test('input size: unchanged up to 1.78:1, else round(int(size * 1.777 / ratio) / 14) * 14 with halves to even', () => {
    expect(vdaInputSize(1920, 1080, 518)).toBe(518); // 1.777...
    expect(vdaInputSize(1920, 800, 518)).toBe(378); // int(383.5) = 383 -> 27.36 -> 27
    // int(518 * 1.777 / 4.53) = 203 = 14 x 14.5: Python's round goes to 14 (even), not 15.
    expect(vdaInputSize(453, 100, 518)).toBe(196);
    expect(vdaInputSize(100, 453, 518)).toBe(196);
    expect(() => vdaInputSize(10000, 10, 518)).toThrow(/leaves an input size of 0 from 518/);
  });

  test('numpy float32 sums are pairwise (values from numpy: np.float32 arithmetic)', () => {
    const a = new Float32Array(1000).fill(0.1);
    expect(numpySumF32(a)).toBe(Math.fround(100.000015)); // numpy: 100.000015; a plain float32 loop gives 99.99905
    let naive = 0;
    for (const v of a) naive = Math.fround(naive + v);
    expect(naive).not.toBe(numpySumF32(a));
    const b = new Float32Array(6000);
    for (let i = 0; i < b.length; i++) b[i] = Math.fround(Math.fround(Math.fround(i) * Math.fround(0.37)) % Math.fround(3.3));
    expect(numpySumF32(b)).toBe(Math.fround(9868.683)); // (arange(6000, f32) * 0.37 % 3.3).sum()
    expect(numpySumF32(b, (v) => Math.fround(v * v))).toBe(Math.fround(21676.39));
  });

  test('the least-squares fit recovers an exact affine map, and a constant prediction falls back to (1, 0)', () => {
    const pred = Float32Array.from({ length: 200 }, (_, i) => (i % 17) / 3);
    const target = pred.map((p) => 2.5 * p - 0.75);
    const { scale, shift } = computeScaleAndShift(pred, target);
    expect(scale).toBeCloseTo(2.5, 5);
    expect(shift).toBeCloseTo(-0.75, 5);
    expect(computeScaleAndShift(new Float32Array(10).fill(2), new Float32Array(10).fill(3))).toEqual({ scale: 1, shift: 0 });
  });

  test('overlap blending weights 0, 1/7, ..., 1', () => {
    const pre = Array.from({ length: 8 }, () => new Float32Array([7]));
    const post = Array.from({ length: 8 }, () => new Float32Array([0]));
    expect(interpolateFrames(pre, post).map((f) => f[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((k) => Math.fround(7 * Math.fround(1 - k / 7))));
  });

  test('release names: metric_video_depth_anything_* is metric; non-official sizes need a config', () => {
    expect(vdaMetricFromFileName('/x/metric_video_depth_anything_vitl.pth')).toBe(true);
    expect(vdaMetricFromFileName('video_depth_anything_vits.pth')).toBe(false);
    expect(vdaMetricFromFileName('model.pth')).toBeUndefined();
    const sd = new Map([['pretrained.pos_embed', { shape: [1, 1370, 32], data: new Float32Array(0) }], ['pretrained.blocks.0.norm1.weight', { shape: [32], data: new Float32Array(0) }]]);
    expect(() => resolveVdaConfig(sd, 'tiny.pth')).toThrow('tiny.pth: the encoder (embed_dim 32, depth 1) is not an official VDA size');
  });
});

describe('the streaming cache list (video_depth_stream.py bookkeeping)', () => {
  /** video_depth_stream.py's frame_id_list, transcribed: the ids each frame >= 1 attends to. */
  function official(n: number): number[][] {
    const ids: number[] = [];
    const out: number[][] = [];
    for (let i = 0; i < n; i++) {
      if (i === 0) ids.push(...Array(31).fill(0));
      else out.push([...ids.slice(0, 2), ...ids.slice(-29)]);
      ids.push(i);
      if (i + 32 > 41 + 1) ids.splice(1, 1);
    }
    return out;
  }

  test('frames attend to frame 0 twice, then to frame 0, frame i-41 and frames i-29..i-1 (steady from frame 42); the list stays at 42', () => {
    const list = new StreamCacheList<string>();
    const seen: number[][] = [];
    const freed: string[] = [];
    for (let i = 0; i < 100; i++) {
      if (i > 0) seen.push(list.used().map((e) => e.id));
      const gone = list.add(i, `s${i}`);
      if (gone) freed.push(gone);
    }
    expect(seen).toEqual(official(100));
    expect(seen[0]).toEqual(Array(31).fill(0));
    expect(seen[58]).toEqual([0, 18, ...Array.from({ length: 29 }, (_, k) => 30 + k)]); // frame 59
    expect(list.entries).toHaveLength(42);
    // Frame 0's states (held 32 times) are never freed; frames 1.. once each, when the last copy goes.
    expect(freed).toEqual(Array.from({ length: 100 - 42 }, (_, k) => `s${k + 1}`));
  });
});
