/**
 * ZoeDepth's metric-bins head settings as plain data (the `model` block of the official
 * `config_zoedepth*.json`, merged with the dataset's depth range), and their JSON form (the
 * fixtures' `"zoe"` block, snake_case). No imports from ../config, which imports this file.
 */

export type BinCentersType = 'normed' | 'softplus' | 'hybrid1' | 'hybrid2';
export type AttractorKind = 'mean' | 'sum';
export type AttractorType = 'inv' | 'exp';

export interface ZoeDepthConfig {
  nBins: number;
  binEmbeddingDim: number;
  /** normed: bounded bins (SeedBinRegressor + AttractorLayer); softplus: unbounded; hybrid1/2 mix them. */
  binCentersType: BinCentersType;
  /** Attractors per decoder level (r4, r3, r2, r1). */
  nAttractors: [number, number, number, number];
  /**
   * Recorded, but without effect: the official attractor layers store them and then call their
   * distance function without them, so alpha 300, gamma 2 always apply (layers/attractor.ts).
   */
  attractorAlpha: number;
  attractorGamma: number;
  attractorKind: AttractorKind;
  attractorType: AttractorType;
  minTemp: number;
  maxTemp: number;
  /** Metres; bound the normed bins (softplus bins ignore them). */
  minDepth: number;
  maxDepth: number;
  /** The core's resize target [h, w] (PrepForMidas), each side rounded to a multiple of 14. */
  imgSize: [number, number];
  /** The core's resize: keep the aspect ratio ("minimal" scaling: inference mode) or stretch to imgSize (evaluation mode). */
  keepAspectRatio: boolean;
  /** Invert and min-max normalise the relative depth before conditioning (config: false). */
  inverseMidas: boolean;
}

/** config_zoedepth.json (+ the NYU range): both released V1 metric checkpoints. */
export function releasedZoeConfig(maxDepth: number): ZoeDepthConfig {
  return {
    nBins: 64,
    binEmbeddingDim: 128,
    binCentersType: 'softplus',
    nAttractors: [16, 8, 4, 1],
    attractorAlpha: 1000,
    attractorGamma: 2,
    attractorKind: 'mean',
    attractorType: 'inv',
    minTemp: 0.0212,
    maxTemp: 50,
    minDepth: 1e-3,
    maxDepth,
    imgSize: [392, 518],
    keepAspectRatio: true,
    inverseMidas: false,
  };
}

export interface ZoeConfigJson {
  n_bins?: number;
  bin_embedding_dim?: number;
  bin_centers_type?: string;
  n_attractors?: number[];
  attractor_alpha?: number;
  attractor_gamma?: number;
  attractor_kind?: string;
  attractor_type?: string;
  min_temp?: number;
  max_temp?: number;
  min_depth?: number;
  max_depth?: number;
  img_size?: number[] | number;
  keep_aspect_ratio?: boolean;
  inverse_midas?: boolean;
}

const BIN_TYPES: readonly BinCentersType[] = ['normed', 'softplus', 'hybrid1', 'hybrid2'];

/** Reads the `"zoe"` block; missing fields default to the released models' settings. */
export function zoeConfigFromJson(json: unknown, fail: (what: string) => never): ZoeDepthConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return fail('"zoe" must be an object');
  const j = json as ZoeConfigJson;
  const base = releasedZoeConfig(j.max_depth ?? 10);
  const num = (v: unknown, key: string, check: (n: number) => boolean, what: string): number => {
    if (typeof v !== 'number' || !check(v)) fail(`"zoe.${key}" must be ${what}, got ${JSON.stringify(v)}`);
    return v as number;
  };
  const posInt = (n: number) => Number.isInteger(n) && n > 0;
  const pos = (n: number) => Number.isFinite(n) && n > 0;
  const oneOf = <T extends string>(v: unknown, key: string, allowed: readonly T[], dflt: T): T => {
    if (v === undefined) return dflt;
    if (!allowed.includes(v as T)) fail(`"zoe.${key}" must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
    return v as T;
  };
  const opt = (v: unknown, key: string, check: (n: number) => boolean, what: string, dflt: number) => (v === undefined ? dflt : num(v, key, check, what));
  let imgSize = base.imgSize;
  if (j.img_size !== undefined) {
    const s = typeof j.img_size === 'number' ? [j.img_size, j.img_size] : j.img_size;
    if (!Array.isArray(s) || s.length !== 2 || !s.every((v) => Number.isInteger(v) && v > 0)) fail(`"zoe.img_size" must be [height, width], got ${JSON.stringify(j.img_size)}`);
    imgSize = [s[0], s[1]];
  }
  let nAttractors = base.nAttractors;
  if (j.n_attractors !== undefined) {
    if (!Array.isArray(j.n_attractors) || j.n_attractors.length !== 4 || !j.n_attractors.every((v) => Number.isInteger(v) && v > 0)) {
      fail(`"zoe.n_attractors" must list 4 positive integers (one per decoder level), got ${JSON.stringify(j.n_attractors)}`);
    }
    nAttractors = [...j.n_attractors] as ZoeDepthConfig['nAttractors'];
  }
  const cfg: ZoeDepthConfig = {
    nBins: opt(j.n_bins, 'n_bins', posInt, 'a positive integer', base.nBins),
    binEmbeddingDim: opt(j.bin_embedding_dim, 'bin_embedding_dim', posInt, 'a positive integer', base.binEmbeddingDim),
    binCentersType: oneOf(j.bin_centers_type, 'bin_centers_type', BIN_TYPES, base.binCentersType),
    nAttractors,
    attractorAlpha: opt(j.attractor_alpha, 'attractor_alpha', Number.isFinite, 'a number', base.attractorAlpha),
    attractorGamma: opt(j.attractor_gamma, 'attractor_gamma', Number.isInteger, 'an integer', base.attractorGamma),
    attractorKind: oneOf(j.attractor_kind, 'attractor_kind', ['mean', 'sum'] as const, base.attractorKind),
    attractorType: oneOf(j.attractor_type, 'attractor_type', ['inv', 'exp'] as const, base.attractorType),
    minTemp: opt(j.min_temp, 'min_temp', Number.isFinite, 'a number', base.minTemp),
    maxTemp: opt(j.max_temp, 'max_temp', Number.isFinite, 'a number', base.maxTemp),
    minDepth: opt(j.min_depth, 'min_depth', Number.isFinite, 'a number', base.minDepth),
    maxDepth: opt(j.max_depth, 'max_depth', pos, 'a positive number', base.maxDepth),
    imgSize,
    keepAspectRatio: j.keep_aspect_ratio ?? base.keepAspectRatio,
    inverseMidas: j.inverse_midas ?? base.inverseMidas,
  };
  if (!(cfg.minDepth < cfg.maxDepth)) fail(`"zoe.min_depth" ${cfg.minDepth} must be below "zoe.max_depth" ${cfg.maxDepth}`);
  if (typeof cfg.keepAspectRatio !== 'boolean') fail('"zoe.keep_aspect_ratio" must be true or false');
  return cfg;
}

export function zoeConfigToJson(z: ZoeDepthConfig): ZoeConfigJson {
  return {
    n_bins: z.nBins,
    bin_embedding_dim: z.binEmbeddingDim,
    bin_centers_type: z.binCentersType,
    n_attractors: [...z.nAttractors],
    attractor_alpha: z.attractorAlpha,
    attractor_gamma: z.attractorGamma,
    attractor_kind: z.attractorKind,
    attractor_type: z.attractorType,
    min_temp: z.minTemp,
    max_temp: z.maxTemp,
    min_depth: z.minDepth,
    max_depth: z.maxDepth,
    img_size: [...z.imgSize],
    keep_aspect_ratio: z.keepAspectRatio,
    inverse_midas: z.inverseMidas,
  };
}
