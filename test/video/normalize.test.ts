import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { normalizeToUint8 } from '../../src/pipeline/colormap';
import { depthToUint16 } from '../../src/node/outputs';
import { decodeNpy } from '../../src/io/npy';
import { AlignedNormalizer, frameNormalizer, gridSubsample, toLevels16, toLevels8, videoNormalizer } from '../../src/node/video/normalize';
import { FlickerMeter } from '../../src/node/video/flicker';
import { NpyStackWriter } from '../../src/node/video/npy_stack';

/** Deterministic pseudo-random floats (LCG). */
function randoms(n: number, seed: number, scale = 1, offset = 0): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return offset + (s / 2 ** 32) * scale; });
}

describe('normalisation modes', () => {
  test('frame mode is the official per-frame min-max, 8 and 16 bits', () => {
    for (const seed of [1, 2, 3]) {
      const d = randoms(5000, seed, 7.3, 0.4);
      const n = frameNormalizer().apply(d);
      expect(Array.from(toLevels8(n))).toEqual(Array.from(normalizeToUint8(d)));
      expect(Array.from(toLevels16(n))).toEqual(Array.from(depthToUint16({ data: d, width: 5000, height: 1, metric: false })));
    }
  });

  test('video mode: one range, values outside clamped', () => {
    const n = videoNormalizer(1, 3).apply(Float32Array.from([0, 1, 2, 3, 4]));
    expect(Array.from(toLevels8(n))).toEqual([0, 0, 127, 255, 255]);
    expect(Array.from(toLevels16(n))).toEqual([0, 0, 32768, 65535, 65535]);
    expect(() => videoNormalizer(0, Infinity)).toThrow(/not finite/);
  });

  test('aligned mode undoes a per-frame scale and shift: the same levels for every frame but the moved outlier', () => {
    const w = 40, h = 30;
    const base = randoms(w * h, 7, 5, 1);
    const al = new AlignedNormalizer(w, h, { samples: 64 }); // a grid from (2, 2) with stride 4
    const fr = frameNormalizer();
    const mAl = new FlickerMeter(w, h), mFr = new FlickerMeter(w, h);
    const first = toLevels8(al.apply(base));
    mAl.add(first);
    mFr.add(toLevels8(fr.apply(base)));
    // The network's disparity is affine-invariant: frames differ by scale and shift, plus a moving extreme pixel.
    for (const [s, t, k] of [[2, 0.5, 0], [0.7, -1, 1], [1.3, 3, 3]]) { // k: a pixel off the grid
      const d = base.map((v, i) => s * v + t + (i === k ? 2 * s : 0));
      const lv = toLevels8(al.apply(d));
      expect(al.last.scale).toBeCloseTo(1 / s, 5);
      expect(al.last.shift).toBeCloseTo(-t / s, 5);
      mAl.add(lv);
      mFr.add(toLevels8(fr.apply(d)));
    }
    expect(mAl.value).toBeLessThan(0.2); // what remains: the outlier pixel moving (about 100 levels on 2 of 1200 pixels)
    expect(mFr.value).toBeGreaterThan(1);
  });

  test('grid subsample covers the frame with about n points', () => {
    const idx = gridSubsample(100, 50, 200);
    expect(idx.length).toBeGreaterThan(150);
    expect(idx.length).toBeLessThan(260);
    expect(Math.max(...idx)).toBeLessThan(5000);
    expect(gridSubsample(3, 2, 4096).length).toBe(6);
  });
});

describe('flicker meter', () => {
  test('mean absolute change of levels; a known shift compares moved content', () => {
    const m = new FlickerMeter(2, 1);
    m.add(Uint8Array.from([0, 10]));
    expect(m.value).toBeNaN();
    m.add(Uint8Array.from([4, 10]));
    m.add(Uint8Array.from([4, 20]));
    expect(m.value).toBe((2 + 5) / 2);
    // Content moving left by 1 px per frame: 1 2 3 4 -> 2 3 4 5: no change along the motion.
    const s = new FlickerMeter(4, 1, { shift: { dx: 1, dy: 0 } });
    s.add(Uint8Array.from([1, 2, 3, 4]));
    s.add(Uint8Array.from([2, 3, 4, 5]));
    expect(s.value).toBe(0);
  });
});

describe('incremental .npy stack', () => {
  let dir: string;
  beforeEach(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'da-npystack-')); });
  afterEach(async () => { await fs.rm(dir, { recursive: true, force: true }); });

  test('frames appended one by one read back as frames x H x W; nothing under the name until finish', async () => {
    const target = path.join(dir, 's.npy');
    const w = await NpyStackWriter.create(target, 3, 5);
    const frames = [randoms(15, 1), randoms(15, 2), randoms(15, 3)];
    for (const f of frames) await w.append(f);
    expect(await fs.readdir(dir)).not.toContain('s.npy');
    await expect(w.append(new Float32Array(4))).rejects.toThrow(/4 values; 3x5 expected/);
    await w.finish();
    expect(await fs.readdir(dir)).toEqual(['s.npy']);
    const { data, shape } = decodeNpy(await fs.readFile(target));
    expect(shape).toEqual([3, 3, 5]);
    expect(Array.from(data)).toEqual(frames.flatMap((f) => Array.from(f)));
    // The header is padded to a multiple of 64 bytes, as numpy writes it.
    expect(((await fs.readFile(target)).length - 3 * 15 * 4) % 64).toBe(0);
  });

  test('abort leaves nothing', async () => {
    const w = await NpyStackWriter.create(path.join(dir, 'a.npy'), 2, 2);
    await w.append(new Float32Array(4));
    await w.abort();
    expect(await fs.readdir(dir)).toEqual([]);
  });
});
