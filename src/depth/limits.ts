/**
 * The depth model's pass against the active backend's limits (src/backends/limits.ts,
 * wasm_memory.ts): its largest tensors follow from the configuration alone, by module.
 */
import * as tf from '@tensorflow/tfjs-core';
import { LimitProblem, PassTensor, PassTensors, checkGpuPass, gpuLimitProblems, largestFitting, smallerSizes } from '../backends/limits';
import { checkWasmPass } from '../backends/wasm_memory';
import { ModelConfig } from '../config/depth';
import { encoderPassTensors } from '../dinov2/pass_tensors';
import { outputBandTensors } from '../dpt/dpt_head';

/** What a pass runs: the whole model, or the encoder alone (`encode`). */
export type PassPart = 'model' | 'encoder';

/** The largest tensors one forward pass at H x W creates on `backend`, by module (the encoder's alone for `encoder`). */
export function largestPassTensors(cfg: ModelConfig, H: number, W: number, batch: number, backend: string, part: PassPart = 'model'): PassTensor[] {
  const B = batch;
  const ph = H / cfg.patchSize;
  const pw = W / cfg.patchSize;
  const F = cfg.features;
  const im2col = backend === 'webgl' && tf.env().getBool('WEBGL_CONV_IM2COL');
  const list: PassTensor[] = [
    ...encoderPassTensors(cfg, 'pretrained', H, W, B, backend),
    { name: 'depth_head.resize_layers.0', shape: [B, 4 * ph, 4 * pw, cfg.outChannels[0]] },
    { name: 'depth_head.scratch.refinenet1', shape: [B, 8 * ph, 8 * pw, F] },
    // The full-resolution stage runs in bands of rows sized to the backend (src/dpt/dpt_head.ts):
    // it fits whenever its one-row band does.
    ...outputBandTensors(B, 1, W, F, backend, im2col),
  ];
  if (backend === 'webgl' && im2col) {
    // conv2d's im2col matrix [B, k*k*Cin, outH*outW] for the head's 3x3 convolutions.
    list.push({ name: 'depth_head.scratch.refinenet1 3x3 conv (im2col)', shape: [B, 9 * F, 8 * ph * 8 * pw], packed: true });
  }
  return part === 'encoder' ? list.filter((t) => !t.name.startsWith('depth_head.')) : list;
}

const tensorsAt = (cfg: ModelConfig, batch: number, part: PassPart): PassTensors => (H, W, backend) => largestPassTensors(cfg, H, W, batch, backend, part);

/** Every tensor of a pass at H x W that exceeds the active GPU backend's limits. */
export function limitProblems(cfg: ModelConfig, H: number, W: number, batch: number, part: PassPart = 'model'): LimitProblem[] {
  return gpuLimitProblems(tensorsAt(cfg, batch, part), H, W);
}

/** The largest H x W (multiples of the patch size, about the same aspect ratio, at most H x W) that fits. */
export function largestFittingSize(cfg: ModelConfig, H: number, W: number, batch: number, part: PassPart = 'model'): [number, number] | undefined {
  return largestFitting(tensorsAt(cfg, batch, part), smallerSizes(cfg.patchSize, H, W));
}

/**
 * Throws one line when a pass at H x W would exceed the active GPU backend's limits: the tensor,
 * the limit, and the largest input size that fits. No-op on cpu/wasm/tensorflow.
 */
export function checkGpuLimits(cfg: ModelConfig, H: number, W: number, batch = 1, part: PassPart = 'model'): void {
  checkGpuPass(tensorsAt(cfg, batch, part), H, W, smallerSizes(cfg.patchSize, H, W), batch);
}

/** wasm's 4 GiB for a pass at H x W with `weightBytes` of weights bound (src/backends/wasm_memory.ts). */
export function checkWasmMemory(cfg: ModelConfig, weightBytes: number, H: number, W: number, batch = 1, part: PassPart = 'model'): void {
  checkWasmPass(tensorsAt(cfg, batch, part), weightBytes, H, W, smallerSizes(cfg.patchSize, H, W), batch);
}
