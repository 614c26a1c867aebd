/**
 * A seeded generator for real runs (mulberry32: small, fast, good enough for crops, coins and
 * perturbation parameters), and the samplers of each random choice the recipes make. Replays use
 * the choices recorded in a fixture instead; both feed the same pure transforms.
 */
import { PerturbationRanges } from '../config/train';
import { CutMixBox, Perturbation, blurKernelSize } from './perturb';

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
}

export interface SeededRng extends Rng {
  /** The whole state: `seededRng(r.state())` goes on exactly where `r` is (a resumed run). */
  state(): number;
}

export function seededRng(seed: number): SeededRng {
  let a = seed >>> 0;
  return {
    state: () => a,
    next() {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

export const uniform = (r: Rng, lo: number, hi: number) => lo + (hi - lo) * r.next();
/** An integer in [lo, hi) (numpy's randint). */
export const randint = (r: Rng, lo: number, hi: number) => lo + Math.floor(r.next() * (hi - lo));
export const coin = (r: Rng, p: number) => r.next() < p;

/** A random permutation of 0..n-1 (Fisher-Yates). */
export function permutation(r: Rng, n: number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = randint(r, 0, i + 1);
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/** Crop(size)'s (h_start, w_start) for an h x w image. */
export const sampleCrop = (r: Rng, h: number, w: number, size: number): [number, number] => [randint(r, 0, h - size + 1), randint(r, 0, w - size + 1)];

/** UniMatch's obtain_cutmix_box: area and aspect drawn, then a position that fits. */
export function sampleCutmixBox(r: Rng, size: number, partner: number, pr: PerturbationRanges): CutMixBox {
  for (;;) {
    const area = uniform(r, pr.cutmixArea[0], pr.cutmixArea[1]) * size * size;
    const aspect = uniform(r, pr.cutmixAspect[0], pr.cutmixAspect[1]);
    const w = Math.floor(Math.sqrt(area / aspect));
    const h = Math.floor(Math.sqrt(area * aspect));
    const x = randint(r, 0, size);
    const y = randint(r, 0, size);
    if (x + w <= size && y + h <= size && w > 0 && h > 0) return { partner, y, x, h, w };
  }
}

/** One unlabeled image's strong perturbation (jitter p, blur p, CutMix p with the given partner). */
export function samplePerturbation(r: Rng, size: number, partner: number, pr: PerturbationRanges): Perturbation {
  const p: Perturbation = {};
  if (coin(r, pr.jitterP)) {
    p.jitter = {
      order: permutation(r, 4),
      brightness: uniform(r, ...pr.brightness), contrast: uniform(r, ...pr.contrast),
      saturation: uniform(r, ...pr.saturation), hue: uniform(r, ...pr.hue),
    };
  }
  if (coin(r, pr.blurP)) {
    const sigma = uniform(r, ...pr.sigma);
    p.blur = { sigma, kernel: blurKernelSize(sigma) };
  }
  if (coin(r, pr.cutmixP)) p.cutmix = sampleCutmixBox(r, size, partner, pr);
  return p;
}
