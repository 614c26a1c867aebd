/**
 * The student's strong perturbations (the paper's section 3.2), as torchvision 0.14's tensor ops
 * compute them on a float32 [0, 1] RGB image (here HWC), each with its parameters explicit:
 * colour jitter (brightness, contrast, saturation, hue in a given order), Gaussian blur, and
 * CutMix's box and mix. Arithmetic is float32 (Math.fround) step by step, as torch's.
 */
import { Planar } from './transforms';

const f = Math.fround;
const clamp01 = (x: number) => (x < 0 ? 0 : x > 1 ? 1 : x);
const GRAY = [f(0.2989), f(0.587), f(0.114)];
const gray = (r: number, g: number, b: number) => f(f(f(f(GRAY[0] * r) + f(GRAY[1] * g))) + f(GRAY[2] * b));

/** Jitter parameters: `order` lists 0 brightness, 1 contrast, 2 saturation, 3 hue. */
export interface JitterParams {
  order: number[];
  brightness: number;
  contrast: number;
  saturation: number;
  hue: number;
}

export interface BlurParams {
  sigma: number;
  /** 2 ceil(3 sigma) + 1. */
  kernel: number;
}

/** CutMix box: rows y..y+h-1, columns x..x+w-1, filled from `partner`. */
export interface CutMixBox {
  partner: number;
  y: number;
  x: number;
  h: number;
  w: number;
}

/** What one unlabeled image gets in one step (absent = not applied). */
export interface Perturbation {
  jitter?: JitterParams;
  blur?: BlurParams;
  cutmix?: CutMixBox;
}

/** _blend(img, other, ratio) = clamp(ratio img + (1 - ratio) other, 0, 1), float32. */
const blend = (x: number, other: number, ratio: number) => clamp01(f(f(f(ratio) * x) + f(f(1 - ratio) * other)));

export function adjustBrightness(img: Planar, b: number): Planar {
  return { ...img, data: img.data.map((x) => blend(x, 0, b)) };
}

/** Blend with the mean of the whole image's grayscale. */
export function adjustContrast(img: Planar, c: number): Planar {
  const n = img.width * img.height;
  let sum = 0;
  for (let p = 0; p < n; p++) sum += gray(img.data[3 * p], img.data[3 * p + 1], img.data[3 * p + 2]);
  const mean = f(sum / n);
  return { ...img, data: img.data.map((x) => blend(x, mean, c)) };
}

export function adjustSaturation(img: Planar, s: number): Planar {
  const out = new Float32Array(img.data.length);
  for (let p = 0; p < img.width * img.height; p++) {
    const g = gray(img.data[3 * p], img.data[3 * p + 1], img.data[3 * p + 2]);
    for (let c = 0; c < 3; c++) out[3 * p + c] = blend(img.data[3 * p + c], g, s);
  }
  return { ...img, data: out };
}

/** torchvision's _rgb2hsv, hue shift (h + hue) mod 1, _hsv2rgb; float32 throughout. */
export function adjustHue(img: Planar, hue: number): Planar {
  const out = new Float32Array(img.data.length);
  const hf = f(hue);
  for (let p = 0; p < img.width * img.height; p++) {
    const r = img.data[3 * p], g = img.data[3 * p + 1], b = img.data[3 * p + 2];
    const maxc = Math.max(r, g, b);
    const minc = Math.min(r, g, b);
    const eqc = maxc === minc;
    const cr = f(maxc - minc);
    const s = f(cr / (eqc ? 1 : maxc));
    const div = eqc ? 1 : cr;
    const rc = f(f(maxc - r) / div), gc = f(f(maxc - g) / div), bc = f(f(maxc - b) / div);
    const hr = maxc === r ? f(bc - gc) : 0;
    const hg = maxc === g && maxc !== r ? f(f(2 + rc) - bc) : 0;
    const hb = maxc !== g && maxc !== r ? f(f(4 + gc) - rc) : 0;
    let h = f(f(hr + hg) + hb);
    h = fmod1(f(f(h / 6) + 1)); // torch.fmod(h / 6 + 1, 1)
    h = mod1(f(h + hf)); // (h + hue) % 1.0: Python's sign convention
    const v = maxc;
    const h6 = f(h * 6);
    const i = Math.floor(h6);
    const fr = f(h6 - i);
    const pp = clamp01(f(v * f(1 - s)));
    const q = clamp01(f(v * f(1 - f(s * fr))));
    const t = clamp01(f(v * f(1 - f(s * f(1 - fr)))));
    const k = ((i % 6) + 6) % 6;
    const rgb = [[v, t, pp], [q, v, pp], [pp, v, t], [pp, q, v], [t, pp, v], [v, pp, q]][k];
    out[3 * p] = rgb[0]; out[3 * p + 1] = rgb[1]; out[3 * p + 2] = rgb[2];
  }
  return { ...img, data: out };
}

const fmod1 = (x: number) => f(x - Math.trunc(x));
const mod1 = (x: number) => f(x - Math.floor(x));

export function colorJitter(img: Planar, j: JitterParams): Planar {
  let out = img;
  for (const fn of j.order) {
    if (fn === 0) out = adjustBrightness(out, j.brightness);
    else if (fn === 1) out = adjustContrast(out, j.contrast);
    else if (fn === 2) out = adjustSaturation(out, j.saturation);
    else if (fn === 3) out = adjustHue(out, j.hue);
    else throw new Error(`colour jitter: unknown function index ${fn} (0 brightness, 1 contrast, 2 saturation, 3 hue)`);
  }
  return out;
}

/** Kernel size torchvision's GaussianBlur is given here: 2 ceil(3 sigma) + 1. */
export const blurKernelSize = (sigma: number) => 2 * Math.ceil(3 * sigma) + 1;

/** torchvision's _get_gaussian_kernel1d in float32: exp(-0.5 (x / sigma)^2), normalised. */
export function gaussianKernel1d(k: number, sigma: number): Float32Array {
  const half = (k - 1) * 0.5;
  const sg = f(sigma);
  const pdf = new Float32Array(k);
  let sum = 0;
  for (let i = 0; i < k; i++) {
    const x = f(-half + (k > 1 ? i * ((2 * half) / (k - 1)) : 0));
    pdf[i] = f(Math.exp(f(-0.5 * f(f(x / sg) ** 2))));
  }
  for (let i = 0; i < k; i++) sum = f(sum + pdf[i]);
  return pdf.map((v) => f(v / sum));
}

/**
 * gaussian_blur: the 2D kernel (outer product of the 1D one) over a reflect-padded image (the edge
 * pixel not repeated), each channel alone.
 */
export function gaussianBlur(img: Planar, b: BlurParams): Planar {
  const { width: W, height: H } = img;
  const k = b.kernel;
  const k1 = gaussianKernel1d(k, b.sigma);
  const r = (k - 1) / 2;
  if (r >= W || r >= H) throw new Error(`Gaussian blur: kernel ${k} is too large for a ${W}x${H} image (reflect padding needs fewer than ${Math.min(W, H)} pixels per side)`);
  const k2 = new Float32Array(k * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) k2[i * k + j] = f(k1[i] * k1[j]);
  const refl = (i: number, n: number) => (i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i);
  const out = new Float32Array(img.data.length);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) {
    let acc = 0;
    for (let i = 0; i < k; i++) {
      const sy = refl(y + i - r, H);
      for (let j = 0; j < k; j++) acc += k2[i * k + j] * img.data[(sy * W + refl(x + j - r, W)) * 3 + c];
    }
    out[(y * W + x) * 3 + c] = acc;
  }
  return { ...img, data: out };
}

/** Colour jitter, then blur, each when given (the perturbation order of the recipe). */
export function strongPerturb(img: Planar, p: Perturbation): Planar {
  let out = img;
  if (p.jitter) out = colorJitter(out, p.jitter);
  if (p.blur) out = gaussianBlur(out, p.blur);
  return out;
}

/** M as a 0/1 map of size x size. */
export function cutmixMask(box: CutMixBox | undefined, size: number): Uint8Array {
  const m = new Uint8Array(size * size);
  if (!box) return m;
  for (let y = box.y; y < box.y + box.h; y++) m.fill(1, y * size + box.x, y * size + box.x + box.w);
  return m;
}

/** u_ab = own outside M, partner inside M (on the normalised images, HWC). */
export function cutmix(own: Planar, partner: Planar, mask: Uint8Array): Planar {
  const out = Float32Array.from(own.data);
  for (let p = 0; p < mask.length; p++) if (mask[p]) for (let c = 0; c < 3; c++) out[3 * p + c] = partner.data[3 * p + c];
  return { ...own, data: out };
}
