/**
 * Colour maps as the official `run.py` applies them: depth min-max normalised to uint8, then
 * `(cmap(depth_u8)[..., :3] * 255).astype(np.uint8)` (matplotlib's 256-entry table, truncated).
 *
 * viridis and inferno: matplotlib's own float tables, as shipped by `scale-color-perceptual`
 * (its `rgb/*.json` equal matplotlib's `_viridis_data`/`_inferno_data` value for value).
 * Spectral_r: no npm package reproduces it (d3-scale-chromatic's interpolateSpectral is a
 * B-spline and ESM-only, `colorbrewer` is ESM-only), so the 11 ColorBrewer colours matplotlib
 * uses are listed here and matplotlib's `LinearSegmentedColormap.from_list` + `reversed()` table
 * construction is repeated in float64 step for step.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const viridisData = require('scale-color-perceptual/rgb/viridis.json') as number[][];
// eslint-disable-next-line @typescript-eslint/no-require-imports
const infernoData = require('scale-color-perceptual/rgb/inferno.json') as number[][];

export type ColormapName = 'spectral_r' | 'inferno' | 'viridis' | 'grayscale';
export const COLORMAP_NAMES: readonly ColormapName[] = ['spectral_r', 'inferno', 'viridis', 'grayscale'];

/** ColorBrewer "Spectral" with 11 classes (matplotlib `_cm._Spectral_data`). */
const SPECTRAL_11 = [
  0x9e0142, 0xd53e4f, 0xf46d43, 0xfdae61, 0xfee08b, 0xffffbf, 0xe6f598, 0xabdda4, 0x66c2a5, 0x3288bd, 0x5e4fa2,
];

/** `np.linspace(0, 1, n)` as numpy computes it (`i * step`, last element exactly 1). */
function linspace01(n: number): number[] {
  const step = 1 / (n - 1);
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? 1 : i * step));
}

/** matplotlib `colors._create_lookup_table(N, data)` for segment data rows (x, y0, y1), gamma 1. */
function lookupTable(n: number, seg: Array<[number, number, number]>): Float64Array {
  const x = seg.map((r) => r[0] * (n - 1));
  const xind = linspace01(n).map((v) => (n - 1) * v);
  const lut = new Float64Array(n);
  lut[0] = seg[0][2];
  lut[n - 1] = seg[seg.length - 1][1];
  for (let i = 1; i < n - 1; i++) {
    let ind = 0; // np.searchsorted(x, xind[i]), side 'left'
    while (ind < x.length && x[ind] < xind[i]) ind++;
    const distance = (xind[i] - x[ind - 1]) / (x[ind] - x[ind - 1]);
    lut[i] = distance * (seg[ind][1] - seg[ind - 1][2]) + seg[ind - 1][2];
  }
  return lut.map((v) => Math.min(Math.max(v, 0), 1));
}

/** `LinearSegmentedColormap.from_list(colors)`, optionally `.reversed()`: 256 RGB floats. */
function segmentedTable(colors: number[], reversed: boolean): number[][] {
  const vals = linspace01(colors.length);
  const channels = [16, 8, 0].map((shift) => {
    let seg: Array<[number, number, number]> = colors.map((c, i) => {
      const v = ((c >> shift) & 255) / 255;
      return [vals[i], v, v];
    });
    if (reversed) seg = [...seg].reverse().map(([x, y0, y1]) => [1 - x, y1, y0]);
    return lookupTable(256, seg);
  });
  return Array.from({ length: 256 }, (_, i) => channels.map((ch) => ch[i]));
}

/** `(table * 255).astype(np.uint8)`: 256 x RGB bytes. */
function toBytes(table: number[][]): Uint8Array {
  const out = new Uint8Array(256 * 3);
  table.forEach((rgb, i) => rgb.forEach((v, c) => { out[i * 3 + c] = Math.trunc(v * 255); }));
  return out;
}

const cache = new Map<ColormapName, Uint8Array>();

/** The 256-entry RGB table (`lut[i * 3 + c]`) of a colour map. */
export function colormapTable(name: ColormapName): Uint8Array {
  let lut = cache.get(name);
  if (lut) return lut;
  switch (name) {
    case 'spectral_r': lut = toBytes(segmentedTable(SPECTRAL_11, true)); break;
    case 'viridis': lut = toBytes(viridisData); break;
    case 'inferno': lut = toBytes(infernoData); break;
    case 'grayscale': lut = Uint8Array.from({ length: 768 }, (_, k) => Math.floor(k / 3)); break; // the level itself, as --grayscale
    default: throw new Error(`unknown colour map "${name as string}"; expected one of ${COLORMAP_NAMES.join(', ')}`);
  }
  cache.set(name, lut);
  return lut;
}

/**
 * The official `(depth - min) / (max - min) * 255.0` then `astype(np.uint8)`, in float32 as
 * numpy computes it on a float32 array. A constant map (max == min) gives zeros.
 */
export function normalizeToUint8(depth: Float32Array): Uint8Array {
  const f = Math.fround, trunc = Math.trunc;
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < depth.length; i++) {
    const v = depth[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const out = new Uint8Array(depth.length);
  const range = f(max - min);
  if (!(range > 0)) return out;
  for (let i = 0; i < depth.length; i++) out[i] = trunc(f(f(f(depth[i] - min) / range) * 255));
  return out;
}

/** Maps 8-bit levels through a colour map to interleaved RGB. */
export function applyColormap(levels: Uint8Array, name: ColormapName): Uint8Array {
  const lut = colormapTable(name);
  const out = new Uint8Array(levels.length * 3);
  for (let i = 0; i < levels.length; i++) {
    const j = levels[i] * 3;
    out[i * 3] = lut[j];
    out[i * 3 + 1] = lut[j + 1];
    out[i * 3 + 2] = lut[j + 2];
  }
  return out;
}
