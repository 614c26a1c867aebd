import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { resizeBilinearAlignCorners } from '../../src/pipeline/postprocess';

/** F.interpolate(..., mode='bilinear', align_corners=True) written out in float64. */
function alignCornersRef(src: Float32Array, h: number, w: number, H: number, W: number): Float64Array {
  const out = new Float64Array(H * W);
  const sy = H > 1 ? (h - 1) / (H - 1) : 0;
  const sx = W > 1 ? (w - 1) / (W - 1) : 0;
  for (let i = 0; i < H; i++) {
    const y = i * sy, y0 = Math.floor(y), y1 = Math.min(y0 + 1, h - 1), ly = y - y0;
    for (let j = 0; j < W; j++) {
      const x = j * sx, x0 = Math.floor(x), x1 = Math.min(x0 + 1, w - 1), lx = x - x0;
      const top = src[y0 * w + x0] * (1 - lx) + src[y0 * w + x1] * lx;
      const bot = src[y1 * w + x0] * (1 - lx) + src[y1 * w + x1] * lx;
      out[i * W + j] = top * (1 - ly) + bot * ly;
    }
  }
  return out;
}

beforeAll(async () => { await tf.setBackend('cpu'); });

describe('resizeBilinearAlignCorners: F.interpolate(bilinear, align_corners=True) back to the image size', () => {
  test.each([[3, 4, 7, 9], [5, 6, 2, 3], [4, 4, 1, 1], [2, 3, 13, 5], [1, 1, 3, 2], [37, 56, 1362, 2048]])('%ix%i -> %ix%i', (h, w, H, W) => {
    const src = Float32Array.from({ length: h * w }, (_, i) => Math.sin(i * 1.7) * 10 + i);
    const got = resizeBilinearAlignCorners(src, h, w, H, W);
    expect(got.length).toBe(H * W);
    const ref = alignCornersRef(src, h, w, H, W);
    let worst = 0;
    for (let k = 0; k < ref.length; k++) {
      const e = Math.abs(got[k] - ref[k]) / Math.max(1, Math.abs(ref[k]));
      if (e > worst) worst = e;
    }
    expect(worst).toBeLessThanOrEqual(1e-5);
    // Aligned corners: the four corners are the source corners exactly.
    if (H > 1 && W > 1) {
      expect([got[0], got[W - 1], got[(H - 1) * W], got[H * W - 1]]).toEqual([src[0], src[w - 1], src[(h - 1) * w], src[h * w - 1]]);
    }
  });
  test('agrees with tfjs resizeBilinear(alignCorners = true)', () => {
    const src = Float32Array.from({ length: 6 * 7 }, (_, i) => Math.cos(i) * 3);
    const t = tf.image.resizeBilinear(tf.tensor4d(src, [1, 6, 7, 1]), [11, 20], true);
    const ours = resizeBilinearAlignCorners(src, 6, 7, 11, 20);
    const theirs = t.dataSync();
    for (let k = 0; k < ours.length; k++) expect(Math.abs(ours[k] - theirs[k])).toBeLessThanOrEqual(1e-5);
    t.dispose();
  });
  test('sizes are checked', () => {
    expect(() => resizeBilinearAlignCorners(new Float32Array(5), 2, 3, 4, 4)).toThrow('resizeBilinearAlignCorners: 5 values for 2x3');
    expect(() => resizeBilinearAlignCorners(new Float32Array(6), 2, 3, 0, 4)).toThrow('output size 0x4 must be positive');
  });
});
