import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { resizeDepth } from '../../src/pipeline/postprocess';

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

describe('resizeDepth: bilinear with aligned corners, back to the image size', () => {
  test.each([[3, 4, 7, 9], [5, 6, 2, 3], [4, 4, 1, 1], [2, 3, 13, 5]])('%ix%i -> %ix%i', (h, w, H, W) => {
    const src = Float32Array.from({ length: h * w }, (_, i) => Math.sin(i * 1.7) * 10 + i);
    const before = tf.memory().numTensors;
    const d = tf.tensor3d(src, [1, h, w]);
    const r = resizeDepth(d, H, W);
    expect(r.shape).toEqual([H, W]);
    const got = r.dataSync();
    const ref = alignCornersRef(src, h, w, H, W);
    for (let k = 0; k < ref.length; k++) expect(Math.abs(got[k] - ref[k])).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(ref[k])));
    // Aligned corners: the four corners are the source corners exactly.
    if (H > 1 && W > 1) {
      expect([got[0], got[W - 1], got[(H - 1) * W], got[H * W - 1]]).toEqual([src[0], src[w - 1], src[(h - 1) * w], src[h * w - 1]]);
    }
    tf.dispose([d, r]);
    expect(tf.memory().numTensors).toBe(before);
  });
  test('a batch of several maps is refused', () => {
    const d = tf.zeros([2, 3, 3]) as tf.Tensor3D;
    expect(() => resizeDepth(d, 5, 5)).toThrow('resizeDepth: one depth map [1, h, w] expected, got [2, 3, 3]');
    d.dispose();
  });
});
