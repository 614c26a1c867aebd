/**
 * Depth Anything 3 with known cameras: the steps around the network (api.py, utils/pose_align.py,
 * evo 1.34 `umeyama_alignment`, commit 2c21ea8). Matrices are flat row-major arrays.
 *
 *   da3NormalizeExtrinsics(w2c [N,4,4]) -> Float32Array [N,4,4]
 *       what the camera encoder sees (`extrinsics_normalized`): every view relative to view 0,
 *       translations divided by max(0.1, lower median of the camera distances); float32 as torch.
 *   da3AlignToInputExtrinsics(predW2c [N,3,4], inputW2c [N,4,4], depth [N,H,W], alignScale?)
 *       -> { r, t, s, alignedExtrinsics, extrinsics, depth }
 *       evo's Umeyama Sim(3) of the input camera centres onto the predicted ones (float64; from
 *       10 views the official RANSAC on numpy's default_rng(42)), then (official default)
 *       prediction.extrinsics = the input ones and depth / s.
 *   affineInverse(m, rows) -> Float64Array: [R | t] -> [R^T | -R^T t] of a 4x4 or 3x4 matrix.
 */
import { Da3InputError } from './errors';
import { Pcg64 } from './numpy_random';
import { numpyMedian, torchMedianLower } from './stats';

const f = Math.fround;

/** `affine_inverse` of one `[rows, 4]` (rows 3 or 4) matrix, float64; keeps the bottom row if any. */
export function affineInverse(m: ArrayLike<number>, rows: 3 | 4 = 4, round: (x: number) => number = (x) => x): Float64Array {
  const out = new Float64Array(rows * 4);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) out[i * 4 + j] = m[j * 4 + i];
    // -(R^T t): a 3-term dot product, rounded as the caller's dtype rounds.
    out[i * 4 + 3] = -round(round(round(m[i] * m[3]) + round(m[4 + i] * m[7])) + round(m[8 + i] * m[11]));
  }
  if (rows === 4) for (let j = 0; j < 4; j++) out[12 + j] = m[12 + j];
  return out;
}

/** 4x4 product in float32 (torch matmul of float32 tensors). */
function matmul4f(a: ArrayLike<number>, b: ArrayLike<number>): Float32Array {
  const out = new Float32Array(16);
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 4; j++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s = f(s + f(a[i * 4 + k] * b[k * 4 + j]));
      out[i * 4 + j] = s;
    }
  }
  return out;
}

/**
 * `DepthAnything3._normalize_extrinsics` on `[N, 4, 4]` world-to-camera matrices (float32):
 * `ex @ inv(ex[0])`, then translations / max(0.1, torch.median(|camera centres|)).
 */
export function da3NormalizeExtrinsics(w2c: ArrayLike<number>, views: number): Float32Array {
  if (w2c.length !== views * 16) throw new Da3InputError(`extrinsics: ${w2c.length} numbers for ${views} view(s); [${views}, 4, 4] expected`);
  const transform = affineInverse(Float32Array.from({ length: 16 }, (_, i) => w2c[i]), 4, f);
  const out = new Float32Array(views * 16);
  const dists = new Float32Array(views);
  for (let v = 0; v < views; v++) {
    const m = matmul4f(Float32Array.from({ length: 16 }, (_, i) => w2c[v * 16 + i]), transform);
    out.set(m, v * 16);
    const c2w = affineInverse(m, 4, f);
    dists[v] = f(Math.sqrt(f(f(f(c2w[3] * c2w[3]) + f(c2w[7] * c2w[7])) + f(c2w[11] * c2w[11]))));
  }
  const median = Math.max(torchMedianLower(dists), f(0.1));
  for (let v = 0; v < views; v++) for (let i = 0; i < 3; i++) out[v * 16 + i * 4 + 3] = f(out[v * 16 + i * 4 + 3] / median);
  return out;
}

/** Singular values (descending) and right/left singular vectors of a 3x3 matrix (one-sided Jacobi). */
export function svd3(a: ArrayLike<number>): { d: [number, number, number]; u: number[][]; v: number[][] } {
  // Columns of W = A V become orthogonal; V accumulates the rotations.
  const w = [0, 1, 2].map((j) => [a[j], a[3 + j], a[6 + j]]);
  const v = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    for (let p = 0; p < 2; p++) {
      for (let q = p + 1; q < 3; q++) {
        const alpha = w[p].reduce((s, x) => s + x * x, 0);
        const beta = w[q].reduce((s, x) => s + x * x, 0);
        const gamma = w[p].reduce((s, x, i) => s + x * w[q][i], 0);
        if (gamma === 0 || Math.abs(gamma) <= 1e-300) continue;
        off = Math.max(off, Math.abs(gamma) / Math.sqrt(alpha * beta));
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t), s = c * t;
        for (const m of [w, v]) {
          const mp = m[p], mq = m[q];
          for (let i = 0; i < 3; i++) { const x = mp[i], y = mq[i]; mp[i] = c * x - s * y; mq[i] = s * x + c * y; }
        }
      }
    }
    if (off < 1e-15) break;
  }
  const norms = w.map((col) => Math.hypot(col[0], col[1], col[2]));
  const order = [0, 1, 2].sort((i, j) => norms[j] - norms[i]);
  const d = order.map((i) => norms[i]) as [number, number, number];
  const u = order.map((i) => (norms[i] > 0 ? w[i].map((x) => x / norms[i]) : [0, 0, 0]));
  return { d, u, v: order.map((i) => v[i]) };
}

const cross = (a: number[], b: number[]): number[] => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const det3 = (m: ArrayLike<number>): number => m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6]);

/**
 * evo `umeyama_alignment(x, y, with_scale=True)`: r, t, c minimising |y - (c r x + t)|, with x, y
 * `[n, 3]` point lists. Throws as evo does when the covariance has rank < 2 (fewer than three
 * distinct, non-collinear camera centres).
 */
export function umeyamaSim3(x: Float64Array, y: Float64Array, n: number): { r: Float64Array; t: Float64Array; c: number } {
  const mx = [0, 0, 0], my = [0, 0, 0];
  for (let i = 0; i < n; i++) for (let k = 0; k < 3; k++) { mx[k] += x[i * 3 + k]; my[k] += y[i * 3 + k]; }
  for (let k = 0; k < 3; k++) { mx[k] /= n; my[k] /= n; }
  let varX = 0;
  const cov = new Float64Array(9);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < 3; a++) {
      const dx = x[i * 3 + a] - mx[a];
      varX += dx * dx;
      for (let b = 0; b < 3; b++) cov[b * 3 + a] += (y[i * 3 + b] - my[b]) * dx;
    }
  }
  const sigmaX = varX / n;
  for (let k = 0; k < 9; k++) cov[k] /= n;
  const { d, u, v } = svd3(cov);
  if (d.filter((s) => s > Number.EPSILON).length < 2) {
    throw new Da3InputError('known cameras: the camera centres are degenerate (fewer than three distinct, non-collinear positions), so the official Umeyama alignment (evo) is not possible; give at least three views at different, non-collinear positions');
  }
  // r = U S V^T with S = diag(1, 1, sign(det U det V)): equal to u1 v1^T + u2 v2^T + (u1 x u2)(v1 x v2)^T.
  const u3 = cross(u[0], u[1]), v3 = cross(v[0], v[1]);
  const r = new Float64Array(9);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) r[i * 3 + j] = u[0][i] * v[0][j] + u[1][i] * v[1][j] + u3[i] * v3[j];
  const s33 = det3(cov) < 0 ? -1 : 1;
  const c = (1 / sigmaX) * (d[0] + d[1] + s33 * d[2]);
  const t = new Float64Array(3);
  for (let i = 0; i < 3; i++) t[i] = my[i] - c * (r[i * 3] * mx[0] + r[i * 3 + 1] * mx[1] + r[i * 3 + 2] * mx[2]);
  return { r, t, c };
}

export interface Da3CameraAlignment {
  /** Umeyama rotation `[3, 3]`, translation `[3]` and scale (`align_poses_umeyama.0/1/2`). */
  r: Float64Array;
  t: Float64Array;
  s: number;
  /** The input cameras moved onto the prediction, world-to-camera `[N, 4, 4]` (`align_poses_umeyama.3`). */
  alignedExtrinsics: Float64Array;
  /** `prediction.extrinsics` `[N, 3, 4]` float32: the input ones (alignScale) or the aligned ones. */
  extrinsics: Float32Array;
  /** `prediction.depth`: divided by s (alignScale) or as predicted. */
  depth: Float32Array;
}

/** Views from which the official code fits the Sim(3) with RANSAC (numpy PCG64 sampling). */
export const DA3_RANSAC_MIN_VIEWS = 10;

/** `pose_align._ransac_align_sim3` (defaults: random_state 42, 10 iterations, half the views). */
function ransacSim3(x: Float64Array, y: Float64Array, n: number): { r: Float64Array; t: Float64Array; s: number } {
  const fit = (idx: ArrayLike<number>) => {
    const k = idx.length;
    const xs = new Float64Array(k * 3), ys = new Float64Array(k * 3);
    for (let j = 0; j < k; j++) for (let c = 0; c < 3; c++) { xs[j * 3 + c] = x[idx[j] * 3 + c]; ys[j * 3 + c] = y[idx[j] * 3 + c]; }
    const { r, t, c } = umeyamaSim3(xs, ys, k);
    return { r, t, s: c };
  };
  /** Input centre i moved by a Sim(3): r @ (s * x_i) + t, with s * x_i in float32. */
  const move = (m: { r: Float64Array; t: Float64Array; s: number }, i: number, k: number): number =>
    m.r[k * 3] * f(f(m.s) * x[i * 3]) + m.r[k * 3 + 1] * f(f(m.s) * x[i * 3 + 1]) + m.r[k * 3 + 2] * f(f(m.s) * x[i * 3 + 2]) + m.t[k];
  const all = Array.from({ length: n }, (_, i) => i);
  const rng = new Pcg64(42);
  const subN = Math.max(3, (n + 1) >> 1);
  const pre = fit(all);
  // _median_nn_thresh: median over the pre-aligned input centres of the nearest predicted centre.
  const nn = all.map((i) => {
    const p = [0, 1, 2].map((k) => move(pre, i, k));
    return Math.min(...all.map((j) => Math.sqrt((y[j * 3] - p[0]) ** 2 + (y[j * 3 + 1] - p[1]) ** 2 + (y[j * 3 + 2] - p[2]) ** 2)));
  });
  const thresh = numpyMedian(nn);
  let best = pre;
  let bestInliers: number[] | null = null;
  let bestK = -1, bestErr = Infinity;
  for (let it = 0; it < 10; it++) {
    const sample = rng.choiceNoReplace(n, subN);
    let m: { r: Float64Array; t: Float64Array; s: number };
    try { m = fit(sample); } catch { continue; }
    // _apply_sim3_to_poses writes into a float32 copy: the moved centres are float32.
    const errs = all.map((i) => Math.sqrt([0, 1, 2].reduce((acc, k) => acc + (f(move(m, i, k)) - y[i * 3 + k]) ** 2, 0)));
    const inliers = all.filter((i) => errs[i] <= thresh);
    const k = inliers.length;
    const meanErr = k > 0 ? inliers.reduce((acc, i) => acc + errs[i], 0) / k : Infinity;
    if (k > bestK || (k === bestK && meanErr < bestErr)) { bestK = k; bestErr = meanErr; best = m; bestInliers = inliers; }
  }
  return bestInliers && bestInliers.length >= 3 ? fit(bestInliers) : best;
}

/**
 * `DepthAnything3._align_to_input_extrinsics_intrinsics`: the Sim(3) that maps the input camera
 * centres onto the predicted ones (evo Umeyama, float64), then with `alignScale` (the official
 * `align_to_input_ext_scale=True`) the input extrinsics replace the predicted ones and the depth
 * is divided by the scale, so depth and cameras share the input's units.
 * `predW2c`: the net's `[N, 3, 4]`; `inputW2c`: the preprocessed `[N, 4, 4]` (float32 values).
 * From 10 views the official code fits with RANSAC (`_ransac_align_sim3`, 10 draws of
 * `np.random.default_rng(42).choice`), reproduced with numpy's PCG64 (numpy_random.ts).
 */
export function da3AlignToInputExtrinsics(predW2c: ArrayLike<number>, inputW2c: ArrayLike<number>, depth: Float32Array, views: number, alignScale = true): Da3CameraAlignment {
  if (predW2c.length !== views * 12) throw new Error(`da3AlignToInputExtrinsics: predicted extrinsics have ${predW2c.length} numbers; [${views}, 3, 4] expected`);
  if (inputW2c.length !== views * 16) throw new Da3InputError(`extrinsics: ${inputW2c.length} numbers for ${views} view(s); [${views}, 4, 4] expected`);
  // x: input camera centres (float32 affine_inverse_np of float32 matrices); y: predicted (float64).
  const x = new Float64Array(views * 3), y = new Float64Array(views * 3);
  const inputPoses: Float64Array[] = [];
  for (let v = 0; v < views; v++) {
    const pose = affineInverse(Array.from({ length: 16 }, (_, i) => f(inputW2c[v * 16 + i])), 4, f);
    inputPoses.push(pose);
    const pred = Float64Array.from({ length: 16 }, (_, i) => (i < 12 ? f(predW2c[v * 12 + i]) : i === 15 ? 1 : 0));
    const predPose = affineInverse(pred, 4);
    for (let k = 0; k < 3; k++) { x[v * 3 + k] = pose[k * 4 + 3]; y[v * 3 + k] = predPose[k * 4 + 3]; }
  }
  const { r, t, s } = views >= DA3_RANSAC_MIN_VIEWS ? ransacSim3(x, y, views) : (({ r, t, c }) => ({ r, t, s: c }))(umeyamaSim3(x, y, views));
  // evo PosePath3D.align: scale(s) then transform(se3(r, t)) (RANSAC: _apply_sim3_to_poses, the
  // same formula); s * t_i is float32 (numpy keeps a float32 array float32 against a scalar).
  const alignedExtrinsics = new Float64Array(views * 16);
  for (let v = 0; v < views; v++) {
    const p = inputPoses[v];
    const m = new Float64Array(16);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) m[i * 4 + j] = r[i * 3] * p[j] + r[i * 3 + 1] * p[4 + j] + r[i * 3 + 2] * p[8 + j];
      m[i * 4 + 3] = r[i * 3] * f(f(s) * p[3]) + r[i * 3 + 1] * f(f(s) * p[7]) + r[i * 3 + 2] * f(f(s) * p[11]) + t[i];
    }
    m[15] = 1;
    alignedExtrinsics.set(affineInverse(m, 4), v * 16);
  }
  const extrinsics = new Float32Array(views * 12);
  const src = alignScale ? inputW2c : alignedExtrinsics;
  for (let v = 0; v < views; v++) for (let i = 0; i < 12; i++) extrinsics[v * 12 + i] = src[v * 16 + i];
  // numpy: float32 depth /= float64 scalar computes in float32.
  const fs = f(s);
  const outDepth = alignScale ? depth.map((d) => f(d / fs)) : Float32Array.from(depth);
  return { r, t, s, alignedExtrinsics, extrinsics, depth: outDepth };
}
