/**
 * The UV position embedding of Depth Anything 3's heads (model/utils/head_utils.py): a grid
 * spanning the image plane normalised by its diagonal (`create_uv_grid`), its sin/cos embedding
 * (`position_grid_to_embed`, omega_0 100), added as 0.1 x embed (`_add_pos_embed`). The tables are
 * constants of the map size, built in PyTorch's float32 arithmetic (torch.linspace's two-sided
 * formula, float32 products, sin/cos rounded to float32).
 */
import * as tf from '@tensorflow/tfjs-core';

const f = Math.fround;

/** torch.linspace(start, end, steps) in float32: start + step i below the middle, end - step (steps - 1 - i) above. */
function linspace32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  const s = f(start);
  const e = f(end);
  if (steps === 1) { out[0] = s; return out; }
  const step = f(f(e - s) / (steps - 1));
  const half = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) out[i] = i < half ? f(s + f(step * i)) : f(e - f(step * (steps - i - 1)));
  return out;
}

/** create_uv_grid(width, height, aspect_ratio): [height, width, 2] (u, v). */
export function createUvGrid(width: number, height: number, aspectRatio: number): Float32Array {
  const diag = (aspectRatio ** 2 + 1.0) ** 0.5;
  const spanX = aspectRatio / diag;
  const spanY = 1.0 / diag;
  const xs = linspace32((-spanX * (width - 1)) / width, (spanX * (width - 1)) / width, width);
  const ys = linspace32((-spanY * (height - 1)) / height, (spanY * (height - 1)) / height, height);
  const grid = new Float32Array(height * width * 2);
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      grid[(r * width + c) * 2] = xs[c];
      grid[(r * width + c) * 2 + 1] = ys[r];
    }
  }
  return grid;
}

/** sin/cos of one coordinate at C/4 frequencies: [sin..., cos...] (C/2 values), as make_sincos_pos_embed(C/2). */
function sincos(v: number, channels: number, omega0 = 100): Float32Array {
  const half = channels / 2;
  const q = half / 2;
  const out = new Float32Array(half);
  for (let j = 0; j < q; j++) {
    const omega = f(1 / f(Math.pow(omega0, f(j / f(half / 2.0)))));
    const a = f(v * omega);
    out[j] = f(Math.sin(a));
    out[q + j] = f(Math.cos(a));
  }
  return out;
}

const cache = new Map<string, { grid: Float32Array; embed: Float32Array; scaled: Float32Array }>();
const CACHE_SIZE = 16;

/**
 * The tables for an h x w map of C channels (image W x H): the grid, the embedding, and 0.1 x the
 * embedding as a tensor to add to an NHWC map. u depends on the column only and v on the row
 * only, so each half of the embedding is computed once per column / row (the same values as
 * position_grid_to_embed over the whole grid), and the tables are kept per size.
 */
export function uvPosEmbed(h: number, w: number, channels: number, W: number, H: number): { grid: Float32Array; embed: Float32Array; scaled: tf.Tensor3D } {
  if (channels % 4 !== 0) throw new Error(`position_grid_to_embed needs a multiple of 4 channels; got ${channels}`);
  const key = `${h},${w},${channels},${W / H}`;
  let hit = cache.get(key);
  if (!hit) {
    const grid = createUvGrid(w, h, W / H);
    const half = channels / 2;
    const cols = Array.from({ length: w }, (_, c) => sincos(grid[2 * c], channels));
    const rows = Array.from({ length: h }, (_, r) => sincos(grid[2 * r * w + 1], channels));
    const embed = new Float32Array(h * w * channels);
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) {
        embed.set(cols[c], (r * w + c) * channels);
        embed.set(rows[r], (r * w + c) * channels + half);
      }
    }
    const scaled = Float32Array.from(embed, (v) => f(v * 0.1));
    hit = { grid, embed, scaled };
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value as string);
    cache.set(key, hit);
  }
  return { grid: hit.grid, embed: hit.embed, scaled: tf.tensor3d(hit.scaled, [h, w, channels]) };
}
