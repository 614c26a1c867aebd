/**
 * mmdet `SinePositionalEncoding(num_feats, normalize=True)` for an unpadded map (mask all False):
 * cumulative counts 1..h / 1..w, normalised by the last + eps and scaled by 2 pi, divided by
 * temperature^(2 floor(i/2) / num_feats), sin on even and cos on odd features; channels are
 * [y features, x features]. Computed in float32 step by step as PyTorch does, once per shape.
 */
import * as tf from '@tensorflow/tfjs-core';

const f = Math.fround;
const TEMPERATURE = 10000;
const EPS = 1e-6;
const SCALE = f(2 * Math.PI);

/** [h, w, 2 * numFeats] (NHWC without the batch; identical for every image). */
export function sinePositionalEncoding(h: number, w: number, numFeats: number): tf.Tensor3D {
  const dimT = new Float32Array(numFeats);
  for (let i = 0; i < numFeats; i++) dimT[i] = f(Math.pow(TEMPERATURE, f(f(2 * Math.floor(i / 2)) / numFeats)));
  const embed = (k: number, n: number): number => f(f(k / f(n + EPS)) * SCALE);
  const C = 2 * numFeats;
  const out = new Float32Array(h * w * C);
  const row = (pos: number, dst: number) => {
    for (let i = 0; i < numFeats; i += 2) {
      out[dst + i] = f(Math.sin(f(pos / dimT[i])));
      if (i + 1 < numFeats) out[dst + i + 1] = f(Math.cos(f(pos / dimT[i + 1])));
    }
  };
  for (let y = 0; y < h; y++) {
    const ey = embed(y + 1, h);
    for (let x = 0; x < w; x++) {
      const ex = embed(x + 1, w);
      const base = (y * w + x) * C;
      row(ey, base);
      row(ex, base + numFeats);
    }
  }
  return tf.tensor3d(out, [h, w, C]);
}
