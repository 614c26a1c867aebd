/**
 * The Depth Anything 3 scene as the official GLB exporter computes it (utils/export/glb.py
 * `export_to_glb`, commit 2c21ea8; trimesh 4.10 `transform_points`), from a prediction:
 *
 *   da3Scene(prediction: Da3Prediction, options?: Da3SceneOptions) -> Da3Scene
 *
 * 1. confidence threshold: min(max(confThresh, pct(conf, 40)), pct(conf, 90)), numpy linear
 *    percentiles over all N*H*W values; a pixel is kept when conf >= float32(threshold);
 * 2. per view, row-major pixels with finite depth > 0 (and conf kept) back-projected with K^-1 and
 *    the inverted 4x4 world-to-camera (both inverted at float32 precision, as np.linalg.inv does
 *    for float32 input), float64 math, cast to float32; colours from `processedImages`;
 * 3. alignment A = T(-median) @ diag(1, -1, -1, 1) @ w2c_0 (camera 0 in glTF axes, per-axis
 *    median of the points at the origin), applied in float64;
 * 4. non-finite points dropped; above `numMaxPoints` the official code keeps a random
 *    (unseeded np.random.choice) subset, here an evenly spaced one (deterministic);
 * 5. camera frustums: 4 rays + the image rectangle at depth `cameraSize * diag(pct95 - pct5)` of the
 *    aligned points, in the world frame (then moved by A, as the GLB draws them).
 * Mono predictions without `conf` are not filtered by confidence (the official exporter needs conf).
 */
import { numpyMedian, numpyPercentile } from './stats';

const f = Math.fround;

export interface Da3Prediction {
  views: number;
  height: number;
  width: number;
  /** `[N, H, W]` z-depth. */
  depth: Float32Array;
  /** `[N, H, W]` confidence (>= 1), or null (mono). */
  conf: Float32Array | null;
  /** `[N, 3, 4]` world-to-camera. */
  extrinsics: Float32Array;
  /** `[N, 3, 3]` pixels at the processed size. */
  intrinsics: Float32Array;
  /** `[N, H, W, 3]` uint8 (`da3ProcessedImages`). */
  processedImages: Uint8Array;
}

/** `export_to_glb`'s options, with the values `inference(export_format="glb")` passes. */
export interface Da3SceneOptions {
  confThresh?: number;
  confThreshPercentile?: number;
  ensureThreshPercentile?: number;
  numMaxPoints?: number;
  cameraSize?: number;
  filterBlackBg?: boolean;
  filterWhiteBg?: boolean;
}

export const DA3_SCENE_DEFAULTS: Required<Da3SceneOptions> = {
  confThresh: 1.05,
  confThreshPercentile: 40,
  ensureThreshPercentile: 90,
  numMaxPoints: 1_000_000,
  cameraSize: 0.03,
  filterBlackBg: false,
  filterWhiteBg: false,
};

export interface Da3Scene {
  /** `glb.conf_thresh` (null without conf). */
  confThresh: number | null;
  /** `glb.points_world` `[M, 3]` float32 and `glb.colors_world` `[M, 3]` uint8. */
  pointsWorld: Float32Array;
  colorsWorld: Uint8Array;
  /** `glb.alignment` 4x4 float64 row-major. */
  alignment: Float64Array;
  /** `glb.points` / `glb.colors`: after the alignment, what scene.glb and scene.ply store. */
  points: Float32Array;
  colors: Uint8Array;
  /** `glb.camera_frustum_lines` `[N, 8, 2, 3]` float64, world frame (before the alignment). */
  cameraFrustumLines: Float64Array;
  /** The same segments moved by the alignment, as drawn in scene.glb. */
  cameraFrustumLinesAligned: Float64Array;
  /** `[N, 3]` uint8: each camera's wireframe colour (`_index_color_rgb`). */
  cameraColors: Uint8Array;
}

/** Inverse of an n x n matrix (Gauss-Jordan with partial pivoting, float64). */
export function invert(m: ArrayLike<number>, n: number): Float64Array {
  const a = Float64Array.from(m);
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r * n + c]) > Math.abs(a[p * n + c])) p = r;
    if (a[p * n + c] === 0) throw new Error('singular matrix');
    if (p !== c) {
      for (let k = 0; k < n; k++) {
        [a[c * n + k], a[p * n + k]] = [a[p * n + k], a[c * n + k]];
        [inv[c * n + k], inv[p * n + k]] = [inv[p * n + k], inv[c * n + k]];
      }
    }
    const d = a[c * n + c];
    for (let k = 0; k < n; k++) { a[c * n + k] /= d; inv[c * n + k] /= d; }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const g = a[r * n + c];
      if (g === 0) continue;
      for (let k = 0; k < n; k++) { a[r * n + k] -= g * a[c * n + k]; inv[r * n + k] -= g * inv[c * n + k]; }
    }
  }
  return inv;
}

/** `np.linalg.inv` of a float32 matrix: a float32 result. */
const invertF32 = (m: ArrayLike<number>, n: number): Float64Array => invert(m, n).map(f);

/** `_as_homogeneous44` of view i's `[3, 4]` world-to-camera. */
function w2c44(ext: Float32Array, i: number): Float64Array {
  const m = new Float64Array(16);
  m.set(ext.subarray(i * 12, i * 12 + 12));
  m[15] = 1;
  return m;
}

/** trimesh `transform_points(points, A)`: float64 `[M, 3]` (identity short cut included). */
export function transformPoints(points: ArrayLike<number>, a: Float64Array): Float64Array {
  const out = Float64Array.from(points);
  let dev = 0;
  for (let i = 0; i < 16; i++) dev = Math.max(dev, Math.abs(a[i] - (i % 5 === 0 ? 1 : 0)));
  if (dev < 1e-8) return out;
  for (let p = 0; p < out.length; p += 3) {
    const x = points[p], y = points[p + 1], z = points[p + 2];
    for (let r = 0; r < 3; r++) out[p + r] = a[r * 4] * x + a[r * 4 + 1] * y + a[r * 4 + 2] * z + a[r * 4 + 3];
  }
  return out;
}

/** `get_conf_thresh` without a sky mask (the Prediction never carries `sky_mask`). */
export function da3ConfThreshold(conf: Float32Array, o: Required<Da3SceneOptions>): number {
  const lower = numpyPercentile(conf, o.confThreshPercentile, true);
  const upper = numpyPercentile(conf, o.ensureThreshPercentile, true);
  return Math.min(Math.max(o.confThresh, lower), upper);
}

/** `_index_color_rgb(i, n)`: HSV hue (i + 0.5) / n, s 0.85, v 0.95, truncated to uint8. */
export function cameraColor(i: number, n: number): [number, number, number] {
  const h = (i + 0.5) / Math.max(n, 1), s = 0.85, v = 0.95;
  let k = Math.trunc(h * 6);
  const fr = h * 6 - k;
  const p = v * (1 - s), q = v * (1 - fr * s), t = v * (1 - (1 - fr) * s);
  k %= 6;
  const rgb = [[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]][k];
  return rgb.map((c) => Math.trunc(c * 255)) as [number, number, number];
}

/** `_camera_frustum_lines(K, w2c, W, H, scale)`: `[8, 2, 3]` float64 in the world frame. */
export function cameraFrustumLines(k: ArrayLike<number>, w2c: Float64Array, width: number, height: number, scale: number): Float64Array {
  const kInv = invertF32(k, 3);
  const c2w = invertF32(w2c, 4);
  const apply = (p: number[]): number[] => [0, 1, 2].map((r) => c2w[r * 4] * p[0] + c2w[r * 4 + 1] * p[1] + c2w[r * 4 + 2] * p[2] + c2w[r * 4 + 3] * p[3]);
  const cw = apply([0, 0, 0, 1]);
  const corners = [[0, 0, 1], [width - 1, 0, 1], [width - 1, height - 1, 1], [0, height - 1, 1]];
  const plane = corners.map((c) => {
    const ray = [0, 1, 2].map((r) => kInv[r * 3] * c[0] + kInv[r * 3 + 1] * c[1] + kInv[r * 3 + 2] * c[2]);
    const z = ray[2] === 0 ? 1 : ray[2];
    return apply([(ray[0] / z) * scale, (ray[1] / z) * scale, (ray[2] / z) * scale, 1]);
  });
  const segs: number[][] = [];
  for (let c = 0; c < 4; c++) segs.push(cw, plane[c]);
  const order = [0, 1, 2, 3, 0];
  for (let e = 0; e < 4; e++) segs.push(plane[order[e]], plane[order[e + 1]]);
  return Float64Array.from(segs.flat());
}

/** The official export's point cloud, alignment and camera frustums for one prediction. */
export function da3Scene(pred: Da3Prediction, options: Da3SceneOptions = {}): Da3Scene {
  const opts = { ...DA3_SCENE_DEFAULTS, ...options };
  const { views: n, height: H, width: W } = pred;
  const hw = H * W;
  if (pred.depth.length !== n * hw || pred.processedImages.length !== n * hw * 3 || (pred.conf && pred.conf.length !== n * hw)
    || pred.extrinsics.length !== n * 12 || pred.intrinsics.length !== n * 9) {
    throw new Error(`da3Scene: arrays do not match ${n} view(s) of ${W}x${H} (depth, conf [N,H,W], processedImages [N,H,W,3], extrinsics [N,3,4], intrinsics [N,3,3])`);
  }
  // 3) confidence threshold (background filters first, as export_to_glb sets conf to 1 there).
  let conf = pred.conf;
  if (conf && (opts.filterBlackBg || opts.filterWhiteBg)) {
    conf = Float32Array.from(conf);
    const img = pred.processedImages;
    for (let p = 0; p < n * hw; p++) {
      const r = img[p * 3], g = img[p * 3 + 1], b = img[p * 3 + 2];
      if (opts.filterBlackBg && r < 16 && g < 16 && b < 16) conf[p] = 1;
      if (opts.filterWhiteBg && r >= 240 && g >= 240 && b >= 240) conf[p] = 1;
    }
  }
  const confThresh = conf ? da3ConfThreshold(conf, opts) : null;
  // numpy compares a float32 array with a float64 scalar in float32.
  const thr32 = confThresh === null ? 0 : f(confThresh);
  // 4) back-projection, float64 math on float32 inputs (counted first: clouds reach millions).
  const kept = (p: number): boolean => {
    const d = pred.depth[p];
    return Number.isFinite(d) && d > 0 && (!conf || conf[p] >= thr32);
  };
  let count = 0;
  for (let p = 0; p < n * hw; p++) if (kept(p)) count++;
  const pointsWorld = new Float32Array(count * 3);
  const colorsWorld = new Uint8Array(count * 3);
  let o = 0;
  for (let i = 0; i < n; i++) {
    const kInv = invertF32(pred.intrinsics.subarray(i * 9, i * 9 + 9), 3);
    const c2w = invertF32(w2c44(pred.extrinsics, i), 4);
    for (let v = 0; v < H; v++) {
      for (let u = 0; u < W; u++) {
        const p = i * hw + v * W + u;
        if (!kept(p)) continue;
        const d = pred.depth[p];
        const rx = kInv[0] * u + kInv[1] * v + kInv[2], ry = kInv[3] * u + kInv[4] * v + kInv[5], rz = kInv[6] * u + kInv[7] * v + kInv[8];
        const x = rx * d, y = ry * d, z = rz * d;
        for (let r = 0; r < 3; r++) pointsWorld[o * 3 + r] = c2w[r * 4] * x + c2w[r * 4 + 1] * y + c2w[r * 4 + 2] * z + c2w[r * 4 + 3];
        colorsWorld.set(pred.processedImages.subarray(p * 3, p * 3 + 3), o * 3);
        o++;
      }
    }
  }
  const m = pointsWorld.length / 3;
  // 5) alignment: flip y, z of camera 0's frame, then the per-axis median to the origin.
  const aNoCenter = w2c44(pred.extrinsics, 0);
  for (let j = 0; j < 4; j++) { aNoCenter[4 + j] = -aNoCenter[4 + j]; aNoCenter[8 + j] = -aNoCenter[8 + j]; }
  const center = [0, 0, 0];
  if (m > 0) {
    const tmp = transformPoints(pointsWorld, aNoCenter);
    for (let k = 0; k < 3; k++) center[k] = numpyMedian(Float64Array.from({ length: m }, (_, p) => tmp[p * 3 + k]));
  }
  const alignment = Float64Array.from(aNoCenter);
  for (let k = 0; k < 3; k++) alignment[k * 4 + 3] = aNoCenter[k * 4 + 3] + -center[k];
  // 6) clean + downsample (float64 points in memory; float32 in the files).
  const moved = m > 0 ? transformPoints(pointsWorld, alignment) : new Float64Array(0);
  let keep = new Int32Array(m);
  let finite = 0;
  for (let p = 0; p < m; p++) if (Number.isFinite(moved[p * 3]) && Number.isFinite(moved[p * 3 + 1]) && Number.isFinite(moved[p * 3 + 2])) keep[finite++] = p;
  keep = keep.subarray(0, finite);
  if (finite > opts.numMaxPoints) keep = Int32Array.from({ length: opts.numMaxPoints }, (_, j) => keep[Math.floor((j * finite) / opts.numMaxPoints)]);
  const points64 = new Float64Array(keep.length * 3);
  const colors = new Uint8Array(keep.length * 3);
  keep.forEach((p, j) => { points64.set(moved.subarray(p * 3, p * 3 + 3), j * 3); colors.set(colorsWorld.subarray(p * 3, p * 3 + 3), j * 3); });
  // 8) cameras: scale from the 5-95 percentile box of the aligned points.
  let sceneScale = 1;
  if (keep.length >= 2) {
    const axis = (k: number, q: number) => numpyPercentile(Float64Array.from({ length: keep.length }, (_, j) => points64[j * 3 + k]), q, false);
    const box = [0, 1, 2].map((k) => axis(k, 95) - axis(k, 5));
    const diag = Math.sqrt(box[0] * box[0] + box[1] * box[1] + box[2] * box[2]);
    sceneScale = Number.isFinite(diag) && diag > 0 ? diag : 1;
  }
  const cameraFrustumLines = new Float64Array(n * 48);
  const cameraColors = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    cameraFrustumLines.set(cameraFrustumLines_(pred, i, sceneScale * opts.cameraSize), i * 48);
    cameraColors.set(cameraColor(i, n), i * 3);
  }
  return {
    confThresh, pointsWorld, colorsWorld, alignment,
    points: Float32Array.from(points64), colors,
    cameraFrustumLines, cameraFrustumLinesAligned: transformPoints(cameraFrustumLines, alignment), cameraColors,
  };
}

function cameraFrustumLines_(pred: Da3Prediction, i: number, scale: number): Float64Array {
  return cameraFrustumLines(pred.intrinsics.subarray(i * 9, i * 9 + 9), w2c44(pred.extrinsics, i), pred.width, pred.height, scale);
}
