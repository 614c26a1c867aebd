import * as tf from '@tensorflow/tfjs-core';

const f = Math.fround;
/** PyTorch's bicubic kernel constant (cubic convolution, A = -0.75). */
const A = -0.75;
const cubic1 = (x: number) => f(f(f(f(f(f(A + 2) * x) - f(A + 3)) * x) * x) + 1); // |x| <= 1
const cubic2 = (x: number) => f(f(f(f(f(f(A * x) - f(5 * A)) * x) + f(8 * A)) * x) - f(4 * A)); // 1 < |x| < 2

/**
 * Row-major [outSize, inSize] weights of torch.nn.functional.interpolate(mode='bicubic',
 * align_corners=False, scale_factor=s) along one axis, in PyTorch's float32 arithmetic: the
 * source coordinate is (i + 0.5) / s - 0.5 with the given scale factor (not in/out, which differs
 * when out = floor(in * s)), taps clamped to the border.
 */
export function bicubicMatrix(inSize: number, outSize: number, scaleFactor: number): Float32Array {
  return bicubicWeights(inSize, outSize, f(1 / scaleFactor));
}

/** The same for interpolate(size=...) (no scale_factor): PyTorch's source scale is in / out. */
export function bicubicMatrixToSize(inSize: number, outSize: number): Float32Array {
  return bicubicWeights(inSize, outSize, f(inSize / outSize));
}

function bicubicWeights(inSize: number, outSize: number, scale: number): Float32Array {
  const m = new Float32Array(outSize * inSize);
  for (let i = 0; i < outSize; i++) {
    const real = f(f(scale * f(i + 0.5)) - 0.5);
    const i0 = Math.floor(real);
    const t = f(real - i0);
    const coeffs = [cubic2(f(t + 1)), cubic1(t), cubic1(f(1 - t)), cubic2(f(f(1 - t) + 1))];
    for (let k = 0; k < 4; k++) {
      const src = Math.min(Math.max(i0 - 1 + k, 0), inSize - 1);
      m[i * inSize + src] += coeffs[k];
    }
  }
  return m;
}

/**
 * Separable bicubic resize of one [H, W, C] grid to [outH, outW, C] with per-axis PyTorch
 * scale factors, as two matrix products (exact, and fast on every backend).
 */
export function resizeBicubic(x: tf.Tensor3D, outH: number, outW: number, scaleH: number, scaleW: number): tf.Tensor3D {
  const [H, W, C] = x.shape;
  const mh = tf.tensor2d(bicubicMatrix(H, outH, scaleH), [outH, H]);
  const mw = tf.tensor2d(bicubicMatrix(W, outW, scaleW), [outW, W]);
  const rows = tf.reshape(tf.matMul(mh, tf.reshape(x, [H, W * C])), [outH, W, C]);
  const cols = tf.matMul(mw, tf.reshape(tf.transpose(rows, [1, 0, 2]), [W, outH * C])); // [outW, outH*C]
  return tf.transpose(tf.reshape(cols, [outW, outH, C]), [1, 0, 2]);
}

/** F.interpolate(mode='bilinear', align_corners=True) on NHWC maps. */
export function resizeBilinearAlignCorners(x: tf.Tensor4D, outH: number, outW: number): tf.Tensor4D {
  if (x.shape[1] === outH && x.shape[2] === outW) return x; // align_corners to the same size is the identity
  return tf.image.resizeBilinear(x, [outH, outW], true);
}

/** One axis of PyTorch's CPU bilinear (align_corners=True): float32 source index, taps and weights. */
function torchLinearAxis(inSize: number, outSize: number): { i0: Int32Array; i1: Int32Array; l0: Float32Array; l1: Float32Array } {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const l0 = new Float32Array(outSize);
  const l1 = new Float32Array(outSize);
  const scale = outSize > 1 ? f((inSize - 1) / (outSize - 1)) : 0;
  for (let i = 0; i < outSize; i++) {
    if (inSize === outSize) { i0[i] = i; i1[i] = i; l0[i] = 1; l1[i] = 0; continue; }
    // The float32 scale times the index in double precision (measured against PyTorch 1.13's
    // output: rounding the position to float32 is 40x further from it).
    const real = scale * i;
    const lo = Math.trunc(real);
    i0[i] = lo;
    i1[i] = lo + (lo < inSize - 1 ? 1 : 0);
    l1[i] = f(Math.min(Math.max(real - lo, 0), 1));
    l0[i] = f(1 - l1[i]);
  }
  return { i0, i1, l0, l1 };
}

/**
 * F.interpolate(mode='bilinear', align_corners=True) on NHWC maps with PyTorch's own arithmetic:
 * the source scale (in - 1) / (out - 1) in float32, weights rounded to float32, and
 * h0 (w0 x00 + w1 x01) + h1 (w0 x10 + w1 x11) in that order. tf.image.resizeBilinear computes
 * positions in float64, which differs from PyTorch by ~1e-6 of a pixel step per value on
 * non-integer scales: visible on noisy inputs (ZoeDepth's PrepForMidas on an image). Gathers:
 * about 15x slower than tf.image.resizeBilinear on wasm, so used for the 3-channel image only.
 */
export function resizeBilinearAlignCornersTorch(x: tf.Tensor4D, outH: number, outW: number): tf.Tensor4D {
  const [, H, W] = x.shape;
  if (H === outH && W === outW) return x;
  return tf.tidy(() => {
    const ah = torchLinearAxis(H, outH);
    const aw = torchLinearAxis(W, outW);
    const rowPair = (idx: Int32Array) => tf.gather(x, tf.tensor1d(idx, 'int32'), 1);
    const wCol = (v: Float32Array) => tf.tensor4d(v, [1, 1, outW, 1]);
    const wRow = (v: Float32Array) => tf.tensor4d(v, [1, outH, 1, 1]);
    const inner = (rows: tf.Tensor) => tf.add(tf.mul(tf.gather(rows, tf.tensor1d(aw.i0, 'int32'), 2), wCol(aw.l0)), tf.mul(tf.gather(rows, tf.tensor1d(aw.i1, 'int32'), 2), wCol(aw.l1)));
    return tf.add(tf.mul(inner(rowPair(ah.i0)), wRow(ah.l0)), tf.mul(inner(rowPair(ah.i1)), wRow(ah.l1))) as tf.Tensor4D;
  });
}

/**
 * Rows [r0, r1) of F.interpolate(mode='bilinear', align_corners=True) of x to outH x outW, for
 * per-pixel stages that cannot hold the whole resized map (ZoeDepth's full-resolution stage):
 * the rows by a matrix product over only the source rows the band reads (PyTorch's float32
 * weights, two per row: the sum is w0 x0 + w1 x1 whatever the band, so bands join into exactly
 * the one-band result), then the widths by tf.image.resizeBilinear (its rows the identity).
 * A matrix product, not a gather: tfjs-wasm's GatherV2 took 4.5 s of the head at 392x518.
 */
export function resizeBilinearAlignCornersRows(x: tf.Tensor4D, outH: number, outW: number, r0: number, r1: number): tf.Tensor4D {
  const [B, H, W, C] = x.shape;
  const n = r1 - r0;
  return tf.tidy(() => {
    let rows: tf.Tensor4D;
    if (H === outH) {
      rows = tf.slice(x, [0, r0, 0, 0], [-1, n, -1, -1]);
    } else {
      const a = torchLinearAxis(H, outH);
      const k0 = a.i0[r0];
      const k = a.i1[r1 - 1] + 1 - k0; // source rows [k0, k0 + k)
      const m = new Float32Array(n * k);
      for (let y = r0; y < r1; y++) {
        m[(y - r0) * k + a.i0[y] - k0] += a.l0[y];
        m[(y - r0) * k + a.i1[y] - k0] += a.l1[y];
      }
      const mt = tf.tensor2d(m, [n, k]);
      // One product per batch item: tfjs-wasm runs only batch-1 products through XNNPACK.
      const items = Array.from({ length: B }, (_, b) =>
        tf.reshape(tf.matMul(mt, tf.reshape(tf.slice(x, [b, k0, 0, 0], [1, k, -1, -1]), [k, W * C])), [1, n, W, C]));
      rows = (B === 1 ? items[0] : tf.concat(items, 0)) as tf.Tensor4D;
    }
    return W === outW ? rows : tf.image.resizeBilinear(rows, [n, outW], true);
  });
}
