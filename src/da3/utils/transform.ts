/**
 * Camera encodings (model/utils/transform.py, utils/geometry.py): pose encoding
 * [t (3), quaternion xyzw (4), fov_h, fov_w] <-> camera-to-world [R | t] and pinhole K at the
 * processed size, and affine_inverse. The decoder's direction runs on the device (tf ops, float32
 * as the official code); the encoder's direction (known cameras, a few numbers from the caller)
 * runs in JS in float64 and is rounded to float32, as its tensor is.
 */
import * as tf from '@tensorflow/tfjs-core';

/** quat_to_mat: q [..., 4] (xyzw) -> R [..., 3, 3], normalised by 2 / |q|^2. */
export function quatToMat(q: tf.Tensor): tf.Tensor {
  const [i, j, k, r] = tf.unstack(q, -1);
  const twoS = tf.div(2.0, tf.sum(tf.mul(q, q), -1));
  const m = (a: tf.Tensor) => tf.mul(twoS, a);
  const o = tf.stack([
    tf.sub(1, m(tf.add(tf.mul(j, j), tf.mul(k, k)))), m(tf.sub(tf.mul(i, j), tf.mul(k, r))), m(tf.add(tf.mul(i, k), tf.mul(j, r))),
    m(tf.add(tf.mul(i, j), tf.mul(k, r))), tf.sub(1, m(tf.add(tf.mul(i, i), tf.mul(k, k)))), m(tf.sub(tf.mul(j, k), tf.mul(i, r))),
    m(tf.sub(tf.mul(i, k), tf.mul(j, r))), m(tf.add(tf.mul(j, k), tf.mul(i, r))), tf.sub(1, m(tf.add(tf.mul(i, i), tf.mul(j, j)))),
  ], -1);
  return tf.reshape(o, [...q.shape.slice(0, -1), 3, 3]);
}

/** pose_encoding_to_extri_intri: enc [B, S, 9] -> c2w [B, S, 3, 4], K [B, S, 3, 3] for an H x W image. */
export function poseEncodingToExtriIntri(enc: tf.Tensor3D, H: number, W: number): { c2w: tf.Tensor4D; K: tf.Tensor4D } {
  const [B, S] = enc.shape;
  const T = tf.slice(enc, [0, 0, 0], [B, S, 3]);
  const R = quatToMat(tf.slice(enc, [0, 0, 3], [B, S, 4]));
  const c2w = tf.concat([R, tf.reshape(T, [B, S, 3, 1])], -1) as tf.Tensor4D;
  const fovH = tf.reshape(tf.slice(enc, [0, 0, 7], [B, S, 1]), [B, S]);
  const fovW = tf.reshape(tf.slice(enc, [0, 0, 8], [B, S, 1]), [B, S]);
  const fy = tf.div(H / 2.0, tf.maximum(tf.tan(tf.div(fovH, 2.0)), 1e-6));
  const fx = tf.div(W / 2.0, tf.maximum(tf.tan(tf.div(fovW, 2.0)), 1e-6));
  const z = tf.zerosLike(fx);
  const c = (v: number) => tf.fill([B, S], v);
  const K = tf.reshape(tf.stack([fx, z, c(W / 2), z, fy, c(H / 2), z, z, c(1)], -1), [B, S, 3, 3]) as tf.Tensor4D;
  return { c2w, K };
}

/** affine_inverse of [..., 3, 4] (or [..., 4, 4]: the last row kept): [R^T | -R^T t]. */
export function affineInverse(A: tf.Tensor): tf.Tensor {
  const lead = A.shape.slice(0, -2);
  const rows = A.shape[A.rank - 2];
  const begin = (r: number, c: number) => [...lead.map(() => 0), r, c];
  const size = (r: number, c: number) => [...lead, r, c];
  const R = tf.slice(A, begin(0, 0), size(3, 3));
  const t = tf.slice(A, begin(0, 3), size(3, 1));
  const perm = [...lead.map((_, i) => i), lead.length + 1, lead.length];
  const Rt = tf.transpose(R, perm);
  const top = tf.concat([Rt, tf.matMul(tf.neg(Rt), t)], -1);
  return rows === 4 ? tf.concat([top, tf.slice(A, begin(3, 0), size(1, 4))], -2) : top;
}

/** A 4x4 world-to-camera (row-major, 16 numbers) inverted: [R^T | -R^T t; 0 0 0 1], float64. */
export function affineInverse4(m: ArrayLike<number>): number[] {
  const out = new Array<number>(16).fill(0);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) out[r * 4 + c] = m[c * 4 + r];
    out[r * 4 + 3] = -(m[0 * 4 + r] * m[3] + m[1 * 4 + r] * m[7] + m[2 * 4 + r] * m[11]);
  }
  for (let c = 0; c < 4; c++) out[12 + c] = m[12 + c];
  return out;
}

/** mat_to_quat (xyzw, real part made non-negative) of a row-major 3x3 given as 9 numbers. */
export function matToQuat(m: ArrayLike<number>): [number, number, number, number] {
  const [m00, m01, m02, m10, m11, m12, m20, m21, m22] = Array.from(m);
  const sq = (x: number) => (x > 0 ? Math.sqrt(x) : 0);
  const qAbs = [sq(1 + m00 + m11 + m22), sq(1 + m00 - m11 - m22), sq(1 - m00 + m11 - m22), sq(1 - m00 - m11 + m22)];
  const cand = [
    [qAbs[0] ** 2, m21 - m12, m02 - m20, m10 - m01],
    [m21 - m12, qAbs[1] ** 2, m10 + m01, m02 + m20],
    [m02 - m20, m10 + m01, qAbs[2] ** 2, m12 + m21],
    [m10 - m01, m20 + m02, m21 + m12, qAbs[3] ** 2],
  ];
  let best = 0;
  for (let i = 1; i < 4; i++) if (qAbs[i] > qAbs[best]) best = i; // argmax: the first of equals
  const d = 2 * Math.max(qAbs[best], 0.1);
  const [r, x, y, z] = cand[best].map((v) => v / d); // rijk
  return r < 0 ? [-x, -y, -z, -r] : [x, y, z, r];
}

/**
 * extri_intri_to_pose_encoding for one view: c2w (4x4 or 3x4 row-major, the first 12 used), K (3x3
 * row-major) at an H x W image -> [t, quat xyzw, fov_h, fov_w].
 */
export function poseEncoding(c2w: ArrayLike<number>, K: ArrayLike<number>, H: number, W: number): number[] {
  const R = [c2w[0], c2w[1], c2w[2], c2w[4], c2w[5], c2w[6], c2w[8], c2w[9], c2w[10]];
  const quat = matToQuat(R);
  return [c2w[3], c2w[7], c2w[11], ...quat, 2 * Math.atan((H / 2) / K[4]), 2 * Math.atan((W / 2) / K[0])];
}

/**
 * DepthAnything3._normalize_extrinsics (api.py): world-to-camera [N, 4, 4] made relative to view 0
 * (ex @ inv(ex_0)), translations divided by max(0.1, the lower median camera distance). float64.
 */
export function normalizeExtrinsics(ext: ArrayLike<number>, n: number): Float64Array {
  const inv0 = affineInverse4(Array.from({ length: 16 }, (_, i) => ext[i]));
  const out = new Float64Array(n * 16);
  for (let v = 0; v < n; v++) {
    for (let r = 0; r < 4; r++) {
      for (let c = 0; c < 4; c++) {
        let s = 0;
        for (let k = 0; k < 4; k++) s += ext[v * 16 + r * 4 + k] * inv0[k * 4 + c];
        out[v * 16 + r * 4 + c] = s;
      }
    }
  }
  const dists = Array.from({ length: n }, (_, v) => {
    const c2w = affineInverse4(out.subarray(v * 16, v * 16 + 16));
    return Math.hypot(c2w[3], c2w[7], c2w[11]);
  });
  const sorted = [...dists].sort((a, b) => a - b);
  const median = Math.max(sorted[Math.floor((n - 1) / 2)], 0.1); // torch.median: the lower middle
  for (let v = 0; v < n; v++) for (let r = 0; r < 3; r++) out[v * 16 + r * 4 + 3] /= median;
  return out;
}
