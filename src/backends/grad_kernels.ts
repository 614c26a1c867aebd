/**
 * What tfjs lacks for training our layers (src/train): the gradients of every op in the forward
 * pass must run on every backend.
 * - wasm has no Conv2DBackpropFilter kernel (the filter gradient of every convolution): added here
 *   as the cpu backend's loop over the wasm heap (NHWC, dilation 1), float64 accumulation.
 * - DepthToSpace (the cpu backend's transposed-conv path, src/nn/conv_transpose2d.ts) has no
 *   gradient in tfjs-core: its adjoint is the inverse reordering, as a reshape and a transpose.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core registers its gradients only on request (the union package does it for its users).
import '@tensorflow/tfjs-core/dist/register_all_gradients';

interface WasmLike {
  readSync(dataId: object): tf.backend_util.BackendValues;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.backend_util.TypedArray;
}

function wasmConv2DBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { inputs, attrs } = args;
  const backend = args.backend as WasmLike;
  const x = inputs.x as tf.TensorInfo;
  const dy = inputs.dy as tf.TensorInfo;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (dataFormat !== 'NHWC') throw new Error(`Conv2DBackpropFilter on wasm: only NHWC is supported, got ${dataFormat}`);
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
  const out = backend.makeOutput([fh, fw, Ci, Co], 'float32');
  (backend.typedArrayFromHeap(out) as Float32Array).set(acc);
  return out;
}

let registered = false;

/** Registers the missing kernels and gradients (once; harmless when a backend already has them). */
export function registerTrainingKernels(): void {
  if (registered) return;
  registered = true;
  if (!tf.getKernel('Conv2DBackpropFilter', 'wasm')) {
    tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: wasmConv2DBackpropFilter as unknown as tf.KernelFunc });
  }
  if (!tf.getGradient('DepthToSpace')) {
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
}
