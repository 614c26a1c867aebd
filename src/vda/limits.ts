/**
 * The offline pipeline's window against wasm's 4 GiB heap (src/backends/wasm_memory.ts). Past the
 * ceiling tfjs-wasm's allocator stalls instead of failing (measured: the process sat in `free` for
 * minutes), so a window that cannot fit is refused before it starts, with what does fit.
 *
 * The window runs in pieces sized by the host budget (src/backends/limits.ts): encoder pieces of
 * frames, temporal modules in bands of rows, the tail in pieces of frames, each piece's tensors
 * under the budget. What stays between pieces (the input, the four levels, the maps the fusion
 * blocks join, the depth) grows with frames x pixels. Calibrated, not derived: with a 16 MiB budget
 * a VDA-S window of 32 frames at 126x224 peaked at 74 MiB of tensors (tf.profile,
 * tools/vda-memory.ts), taken as 42 MiB that scale with frames, pixels and the head's width plus
 * two budgets (a piece's token maps and its attention scores). Checked at 518x924 (VDA-S, 32
 * frames, the 512 MiB budget): measured 1518 MiB (with tail pieces of 2 frames, since halved),
 * estimated 1741 MiB.
 */
import * as tf from '@tensorflow/tfjs-core';
import { hostTensorBudget } from '../backends/limits';
import { WASM_MAX_HEAP } from '../backends/wasm_memory';
import { VdaConfig } from '../config/vda';

const MEASURED = { bytes: 42 * 2 ** 20, frames: 32, pixels: 126 * 224, features: 64 };
/** Room left for fragmentation and what the estimate misses: the pass must fit in 85 % of the heap. */
const HEADROOM = 0.85;

/** Estimated peak tensor bytes of one window of T frames at H x W (network size). */
export function vdaWindowBytes(cfg: VdaConfig, T: number, H: number, W: number): number {
  const held = MEASURED.bytes * (T / MEASURED.frames) * ((H * W) / MEASURED.pixels) * (cfg.model.features / MEASURED.features);
  return held + 2 * hostTensorBudget();
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
