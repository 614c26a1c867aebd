/**
 * What tfjs lacks for training our layers (src/train): the gradients of every op in the forward
 * pass must run on every backend.
 * - wasm has no Conv2DBackpropFilter kernel (the filter gradient of every convolution): added here
 *   as a patch matrix times dy in XNNPACK (NHWC, dilation 1). The cpu backend's own reads every
 *   element through TensorBuffer.get, 70% of a training step's time (the tiny metric case: 27 s
 *   of 38 s): it gets a loop over flat arrays with float64 accumulation.
 * - wasm runs a matrix product through XNNPACK only when neither side is transposed; the
 *   gradients of every Linear are transposed products (x^T dy, dy W^T), which went to a scalar
 *   loop: 18 of 31 s of a ViT-S step at 126x126 (measured). On wasm, a transposed product is now
 *   an explicit transpose and a plain product (same sums, in XNNPACK's order).
 * - DepthToSpace (the cpu backend's transposed-conv path, src/nn/conv_transpose2d.ts) has no
 *   gradient in tfjs-core: its adjoint is the inverse reordering, as a reshape and a transpose.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core registers its gradients only on request (the union package does it for its users),
// and only from an ESM file: tools/gen-tfjs-gradients.mjs bundles it for every module system.
import './tfjs_gradients.generated';

interface WasmLike {
  readSync(dataId: object): tf.backend_util.BackendValues;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.backend_util.TypedArray;
}

interface CpuLike {
  readSync(dataId: object): tf.backend_util.BackendValues;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

type Output = (backend: unknown, shape: number[], values: Float64Array) => tf.TensorInfo;

const cpuOutput: Output = (backend, shape, values) => (backend as CpuLike).makeTensorInfo(shape, 'float32', Float32Array.from(values));

const conv2DBackpropFilter = (output: Output) => (args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo => {
  const { inputs, attrs } = args;
  const backend = args.backend as CpuLike;
  const x = inputs.x as tf.TensorInfo;
  const dy = inputs.dy as tf.TensorInfo;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (dataFormat !== 'NHWC') throw new Error(`Conv2DBackpropFilter: only NHWC is supported here, got ${dataFormat}`);
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw, inHeight: H, inWidth: W, inChannels: Ci, outChannels: Co, outHeight: oH, outWidth: oW, batchSize: B } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const xv = backend.readSync(x.dataId) as Float32Array;
  const dyv = backend.readSync(dy.dataId) as Float32Array;
  const acc = new Float64Array(fh * fw * Ci * Co);
  for (let kr = 0; kr < fh; kr++) {
    const yr0 = Math.max(0, Math.ceil((top - kr) / sh));
    const yr1 = Math.min(oH, (H + top - kr) / sh);
    for (let kc = 0; kc < fw; kc++) {
      const yc0 = Math.max(0, Math.ceil((left - kc) / sw));
      const yc1 = Math.min(oW, (W + left - kc) / sw);
      const base = (kr * fw + kc) * Ci * Co;
      for (let b = 0; b < B; b++) {
        for (let yr = yr0; yr < yr1; yr++) {
          const xr = kr + yr * sh - top;
          for (let yc = yc0; yc < yc1; yc++) {
            const xc = kc + yc * sw - left;
            const xo = ((b * H + xr) * W + xc) * Ci;
            const dyo = ((b * oH + yr) * oW + yc) * Co;
            for (let i = 0; i < Ci; i++) {
              const xi = xv[xo + i];
              if (xi === 0) continue;
              const o = base + i * Co;
              for (let c = 0; c < Co; c++) acc[o + c] += xi * dyv[dyo + c];
            }
          }
        }
      }
    }
  }
  return output(backend, [fh, fw, Ci, Co], acc);
};

interface WasmBackendLike { disposeData(dataId: object): void }

/** BatchMatMul with transposeA / transposeB as explicit transposes around the plain product. */
function plainProducts(orig: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const attrs = args.attrs as unknown as tf.BatchMatMulAttrs;
    if (!attrs.transposeA && !attrs.transposeB) return orig(args);
    const backend = args.backend as unknown as WasmBackendLike;
    const transpose = tf.getKernel('Transpose', 'wasm')!.kernelFunc;
    const swap = (x: tf.TensorInfo): tf.TensorInfo => {
      const r = x.shape.length;
      const perm = [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2];
      return transpose({ inputs: { x }, backend: args.backend, attrs: { perm } }) as tf.TensorInfo;
    };
    const a = attrs.transposeA ? swap(args.inputs.a as tf.TensorInfo) : args.inputs.a as tf.TensorInfo;
    const b = attrs.transposeB ? swap(args.inputs.b as tf.TensorInfo) : args.inputs.b as tf.TensorInfo;
    try {
      return orig({ inputs: { a, b }, backend: args.backend, attrs: { ...args.attrs, transposeA: false, transposeB: false } });
    } finally {
      if (attrs.transposeA) backend.disposeData(a.dataId);
      if (attrs.transposeB) backend.disposeData(b.dataId);
    }
  };
}

/**
 * wasm's filter gradient as one plain product in XNNPACK: dW [k k Ci, Co] = cols [k k Ci, M] dy
 * [M, Co], M = B oH oW, with the patch matrix built here (zeros where the window reads padding).
 * 4-6x faster than the loop on ViT-S's head; float32 sums in XNNPACK's order.
 */
function wasmConv2DBackpropFilter(bmm: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as WasmLike & WasmBackendLike;
    const x = args.inputs.x as tf.TensorInfo;
    const dy = args.inputs.dy as tf.TensorInfo;
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    if (dataFormat !== 'NHWC') throw new Error(`Conv2DBackpropFilter: only NHWC is supported here, got ${dataFormat}`);
    const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
    const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw, inHeight: H, inWidth: W, inChannels: Ci, outChannels: Co, outHeight: oH, outWidth: oW, batchSize: B } = info;
    const top = info.padInfo.top;
    const left = info.padInfo.left;
    const K = fh * fw * Ci;
    const M = B * oH * oW;
    const cols = backend.makeOutput([1, K, M], 'float32');
    const xv = backend.readSync(x.dataId) as Float32Array; // a copy: the heap may have grown
    const cv = backend.typedArrayFromHeap(cols) as Float32Array;
    cv.fill(0);
    for (let b = 0; b < B; b++) for (let yr = 0; yr < oH; yr++) for (let yc = 0; yc < oW; yc++) {
      const m = (b * oH + yr) * oW + yc;
      for (let kr = 0; kr < fh; kr++) {
        const xr = yr * sh - top + kr;
        if (xr < 0 || xr >= H) continue;
        for (let kc = 0; kc < fw; kc++) {
          const xc = yc * sw - left + kc;
          if (xc < 0 || xc >= W) continue;
          const src = ((b * H + xr) * W + xc) * Ci;
          const row = (kr * fw + kc) * Ci;
          for (let i = 0; i < Ci; i++) cv[(row + i) * M + m] = xv[src + i];
        }
      }
    }
    try {
      const out = bmm({ inputs: { a: cols, b: { dataId: dy.dataId, shape: [1, M, Co], dtype: 'float32' } }, backend: args.backend, attrs: { transposeA: false, transposeB: false } }) as tf.TensorInfo;
      (out as { shape: number[] }).shape = [fh, fw, Ci, Co];
      return out;
    } finally {
      backend.disposeData(cols.dataId);
    }
  };
}

const done = new Set<string>();

/**
 * Registers the missing kernels and gradients. Idempotent, and per backend: a backend whose
 * kernels are not registered yet is patched by a later call (every trainer calls this).
 */
export function registerTrainingKernels(): void {
  if (!done.has('DepthToSpace') && !tf.getGradient('DepthToSpace')) {
    tf.registerGradient({
      kernelName: 'DepthToSpace',
      gradFunc: (dy, _saved, attrs) => {
        const k = (attrs as unknown as tf.DepthToSpaceAttrs).blockSize;
        const g = dy as tf.Tensor4D;
        const [B, Hk, Wk, C] = g.shape;
        const h = Hk / k;
        const w = Wk / k;
        // y[b, h k + i, w k + j, c] = x[b, h, w, (i k + j) C + c] (NHWC, DCR order)
        return { x: () => tf.reshape(tf.transpose(tf.reshape(g, [B, h, k, w, k, C]), [0, 1, 3, 2, 4, 5]), [B, h, w, k * k * C]) };
      },
    });
  }
  done.add('DepthToSpace');
  const bmm = tf.getKernel('BatchMatMul', 'wasm');
  if (bmm && !done.has('wasm')) {
    done.add('wasm');
    if (!tf.getKernel('Conv2DBackpropFilter', 'wasm')) {
      tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: wasmConv2DBackpropFilter(bmm.kernelFunc) });
    }
    tf.unregisterKernel('BatchMatMul', 'wasm');
    tf.registerKernel({ ...bmm, kernelFunc: plainProducts(bmm.kernelFunc) });
  }
  if (tf.getKernel('Conv2DBackpropFilter', 'cpu') && !done.has('cpu')) {
    done.add('cpu');
    tf.unregisterKernel('Conv2DBackpropFilter', 'cpu');
    tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'cpu', kernelFunc: conv2DBackpropFilter(cpuOutput) as unknown as tf.KernelFunc });
  }
}
