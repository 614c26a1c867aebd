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

/** position_grid_to_embed(grid [h, w, 2], C): [h, w, C] = [sin, cos](u omega) ++ [sin, cos](v omega), C/4 frequencies each. */
export function positionGridToEmbed(grid: Float32Array, channels: number, omega0 = 100): Float32Array {
  const P = grid.length / 2;
  const half = channels / 2; // make_sincos_pos_embed(embed_dim // 2, ...)
  // make_sincos_pos_embed asserts an even embed_dim (C // 2), and the result is viewed as C channels.
  if (channels % 4 !== 0) throw new Error(`position_grid_to_embed needs a multiple of 4 channels; got ${channels}`);
  const q = Math.floor(half / 2);
  const omega = Array.from({ length: q }, (_, j) => f(1 / f(Math.pow(omega0, f(j / f(half / 2.0))))));
  const out = new Float32Array(P * channels);
  for (let p = 0; p < P; p++) {
    for (let axis = 0; axis < 2; axis++) {
      const v = grid[2 * p + axis];
      for (let j = 0; j < q; j++) {
        const a = f(v * omega[j]);
        out[p * channels + axis * half + j] = f(Math.sin(a));
        out[p * channels + axis * half + q + j] = f(Math.cos(a));
      }
    }
  }
  return out;
}

/** Tables the tap shows, and the embedding to add ([h, w, C], times 0.1) to an NHWC map. */
export function uvPosEmbed(h: number, w: number, channels: number, W: number, H: number): { grid: Float32Array; embed: Float32Array; scaled: tf.Tensor3D } {
  const grid = createUvGrid(w, h, W / H);
  const embed = positionGridToEmbed(grid, channels);
  const scaled = Float32Array.from(embed, (v) => f(v * 0.1));
  return { grid, embed, scaled: tf.tensor3d(scaled, [h, w, channels]) };
}
