/**
 * From raw depth to display levels, frame after frame. The official `run_video.py` min-max
 * normalises each frame on its own (`frame`), so colours jump whenever a frame's extremes move,
 * even on a still scene. Two temporally stable alternatives:
 * - `video`: one range for the whole clip (taken by the caller from a first pass over a sample of
 *   frames); values outside it are clamped.
 * - `aligned` (the default for video): the network predicts affine-invariant disparity, so each
 *   frame's scale and shift are arbitrary. Each frame is fitted to a running reference by
 *   least-squares scale and shift on a fixed subsample of pixels (the MiDaS alignment,
 *   `eval/align.ts`), and the reference follows the scene slowly (an exponential average of
 *   the aligned frames); the colour range is the first frame's, fixed.
 * Raw `.npy` output is never normalised.
 */
import { fitScaleShift } from '../../eval/align';

export type NormalizeMode = 'frame' | 'video' | 'aligned';
export const NORMALIZE_MODES: readonly NormalizeMode[] = ['frame', 'video', 'aligned'];

/** Values to display and the range that maps to the lowest and highest level. */
export interface NormalizedFrame {
  values: Float32Array;
  lo: number;
  hi: number;
}

export interface Normalizer {
  readonly mode: NormalizeMode;
  apply(depth: Float32Array): NormalizedFrame;
}

export function rangeOf(data: ArrayLike<number>): { min: number; max: number } {
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < data.length; i++) { const v = data[i]; if (v < min) min = v; if (v > max) max = v; }
  return { min, max };
}

/** The official per-frame min-max. */
export function frameNormalizer(): Normalizer {
  return { mode: 'frame', apply: (d) => { const { min, max } = rangeOf(d); return { values: d, lo: min, hi: max }; } };
}

/** One range for every frame. */
export function videoNormalizer(lo: number, hi: number): Normalizer {
  if (!(Number.isFinite(lo) && Number.isFinite(hi))) throw new Error(`videoNormalizer: range [${lo}, ${hi}] is not finite`);
  return { mode: 'video', apply: (d) => ({ values: d, lo, hi }) };
}

export interface AlignOptions {
  /** Pixels the fit uses, about (a regular grid). Default 4096. */
  samples?: number;
  /**
   * Weight of the newest aligned frame in the running reference, in (0, 1]. Default 0.5: the
   * reference follows the scene within a few frames (a pan keeps fitting); smaller values hold
   * the colours of a static scene longer but fit a moving one worse (measured in docs/video.md).
   */
  momentum?: number;
}

/** Pixel indices of a regular grid of about `n` points over a width x height frame. */
export function gridSubsample(width: number, height: number, n: number): Int32Array {
  const stride = Math.max(1, Math.floor(Math.sqrt((width * height) / n)));
  const idx: number[] = [];
  for (let y = Math.floor(stride / 2); y < height; y += stride) {
    for (let x = Math.floor(stride / 2); x < width; x += stride) idx.push(y * width + x);
  }
  return Int32Array.from(idx);
}

export class AlignedNormalizer implements Normalizer {
  readonly mode = 'aligned' as const;
  private idx?: Int32Array;
  private ref?: Float64Array;
  private lo = 0;
  private hi = 0;
  private readonly samples: number;
  private readonly momentum: number;
  /** The last frame's fit (scale, shift), for inspection. */
  last = { scale: 1, shift: 0 };

  constructor(private readonly width: number, private readonly height: number, opts: AlignOptions = {}) {
    this.samples = opts.samples ?? 4096;
    this.momentum = opts.momentum ?? 0.5;
    if (!(this.momentum > 0 && this.momentum <= 1)) throw new Error(`aligned normalisation: momentum must be in (0, 1], got ${this.momentum}`);
  }

  apply(depth: Float32Array): NormalizedFrame {
    if (depth.length !== this.width * this.height) throw new Error(`aligned normalisation: frame has ${depth.length} values; ${this.width}x${this.height} expected`);
    this.idx ??= gridSubsample(this.width, this.height, this.samples);
    const idx = this.idx;
    const sub = new Float64Array(idx.length);
    for (let i = 0; i < idx.length; i++) sub[i] = depth[idx[i]];
    if (!this.ref) {
      // The first frame is the reference: its own values and range.
      this.ref = sub;
      ({ min: this.lo, max: this.hi } = rangeOf(depth));
      return { values: depth, lo: this.lo, hi: this.hi };
    }
    const fit = fitScaleShift(sub, this.ref, new Uint8Array(idx.length).fill(1));
    this.last = fit;
    const values = new Float32Array(depth.length);
    for (let i = 0; i < depth.length; i++) values[i] = fit.scale * depth[i] + fit.shift;
    const m = this.momentum, ref = this.ref;
    for (let i = 0; i < idx.length; i++) ref[i] = (1 - m) * ref[i] + m * values[idx[i]];
    return { values, lo: this.lo, hi: this.hi };
  }
}

/**
 * 8-bit levels, clamped to [lo, hi]. With the frame's own min and max this is exactly the official
 * `((depth - min) / (max - min) * 255).astype(np.uint8)` in float32 (`normalizeToUint8`).
 */
export function toLevels8({ values, lo, hi }: NormalizedFrame): Uint8Array {
  const f = Math.fround, trunc = Math.trunc;
  const out = new Uint8Array(values.length);
  const flo = f(lo), range = f(hi - lo);
  if (!(range > 0)) return out;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    out[i] = v <= flo ? 0 : v >= hi ? 255 : trunc(f(f(f(v - flo) / range) * 255));
  }
  return out;
}

/** 16-bit levels (0..65535), clamped to [lo, hi]; with the frame's own range, as `depthToUint16`. */
export function toLevels16({ values, lo, hi }: NormalizedFrame): Uint16Array {
  const out = new Uint16Array(values.length);
  const range = hi - lo;
  if (!(range > 0)) return out;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    out[i] = v <= lo ? 0 : v >= hi ? 65535 : Math.round(((v - lo) / range) * 65535);
  }
  return out;
}
