/**
 * Flicker: the mean absolute change of the displayed 8-bit levels between consecutive frames,
 * averaged over pixels and frame pairs (0 = no change, 255 = black/white alternation). On a clip
 * whose content barely changes, what remains is the normalisation's own jumping. For a synthetic
 * pan with a known integer motion, `shift` compares each pixel with where its content was in the
 * previous frame (over the overlap), so the scene's motion itself does not count.
 */
export interface FlickerOptions {
  /** Content moves by (-dx, -dy) per frame: level(x, y) of frame k is compared with level(x + dx, y + dy) of frame k-1. */
  shift?: { dx: number; dy: number };
}

export class FlickerMeter {
  private prev?: Uint8Array;
  private sum = 0;
  private pairs = 0;

  constructor(private readonly width: number, private readonly height: number, private readonly opts: FlickerOptions = {}) {}

  add(levels: Uint8Array): void {
    const { width: w, height: h } = this;
    if (levels.length !== w * h) throw new Error(`flicker: frame has ${levels.length} levels; ${w}x${h} expected`);
    const prev = this.prev;
    if (prev) {
      const dx = this.opts.shift?.dx ?? 0, dy = this.opts.shift?.dy ?? 0;
      let s = 0, n = 0;
      for (let y = Math.max(0, -dy); y < Math.min(h, h - dy); y++) {
        for (let x = Math.max(0, -dx); x < Math.min(w, w - dx); x++) {
          s += Math.abs(levels[y * w + x] - prev[(y + dy) * w + x + dx]);
          n++;
        }
      }
      if (n > 0) { this.sum += s / n; this.pairs++; }
    }
    this.prev = levels;
  }

  /** Mean absolute change in 8-bit levels; NaN before two frames. */
  get value(): number {
    return this.pairs ? this.sum / this.pairs : NaN;
  }
}
