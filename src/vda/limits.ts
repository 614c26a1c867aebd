/**
 * The offline pipeline's window against wasm's 4 GiB heap (src/backends/wasm_memory.ts). A window
 * of 32 frames at 518 does not fit: past the ceiling tfjs-wasm's allocator stalls instead of
 * failing (measured: the process sat in `free` for minutes), so the window is refused before it
 * starts, with what does fit. Calibrated, not derived: the peak of a VDA-S window of 32 frames at
 * 266x392 was 1976 MiB of tensors (tf.profile, after the temporal scopes and the encoder's
 * 4-frame chunks), taken as proportional to frames x pixels and to the head's width.
 */
import * as tf from '@tensorflow/tfjs-core';
import { WASM_MAX_HEAP } from '../backends/wasm_memory';
import { VdaConfig } from '../config/vda';

const MEASURED = { bytes: 1976 * 2 ** 20, frames: 32, pixels: 266 * 392, features: 64 };
/** Room left for fragmentation and what the estimate misses: the pass must fit in 85 % of the heap. */
const HEADROOM = 0.85;

/** Estimated peak tensor bytes of one window of T frames at H x W (network size). */
export function vdaWindowBytes(cfg: VdaConfig, T: number, H: number, W: number): number {
  return MEASURED.bytes * (T / MEASURED.frames) * ((H * W) / MEASURED.pixels) * (cfg.model.features / MEASURED.features);
}

const gib = (b: number): string => `${(b / 2 ** 30).toFixed(1)} GiB`;

/**
 * Throws one line on wasm when a window of T frames at H x W (the network size for `inputSize`)
 * would not fit with the weights (twice: XNNPACK's packed copies); a no-op elsewhere.
 */
export function checkVdaWindow(cfg: VdaConfig, weightBytes: number, T: number, H: number, W: number, inputSize: number): void {
  if (tf.getBackend() !== 'wasm') return;
  const room = HEADROOM * WASM_MAX_HEAP - 2 * weightBytes;
  const need = vdaWindowBytes(cfg, T, H, W);
  if (need <= room) return;
  // The pixels scale with inputSize squared (the shorter side is inputSize, or the aspect rule's).
  let fits = Math.floor((inputSize * Math.sqrt(room / need)) / 14) * 14;
  while (fits >= 14 && vdaWindowBytes(cfg, T, Math.round((H * fits) / inputSize), Math.round((W * fits) / inputSize)) > room) fits -= 14;
  const hint = fits >= 14 ? `--input-size ${fits} or less, ` : '';
  throw new Error(`a window of ${T} frames at ${W}x${H} needs about ${gib(need)} of tensors, past the ${gib(room)} that wasm's 4 GiB memory leaves beside the weights; use --streaming (one frame at a time), ${hint}or another backend (cpu, webgpu, tensorflow)`);
}
