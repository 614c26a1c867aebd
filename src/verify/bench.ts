/**
 * Speed measurement on random weights of a real configuration: no checkpoint needed. Times whole
 * forward passes, counts their FLOPs analytically, and breaks one pass into stages (each stage
 * synchronised with `await tensor.data()`, which only this staged pass does: the timed runs are
 * the plain `forward`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModelConfig } from '../config/depth';
import { VdaConfig } from '../config/vda';
import { binLayers, zoeDepthHeadShapes } from '../zoedepth/zoedepth_v1';
import { PROJECTOR_MLP_DIM, SEED_MLP_DIM } from '../zoedepth/layers/localbins_layers';
import { DepthAnythingWeights, bindWeights, disposeWeights, forward } from '../depth/depth_anything';
import { blockLayerNorm } from '../backends/choices';
import { attention } from '../dinov2/attention';
import { block } from '../dinov2/block';
import { layerScale } from '../dinov2/layer_scale';
import { mlp } from '../dinov2/mlp';
import { swiglu, swigluHidden } from '../dinov2/swiglu_ffn';
import { IntermediateLayer, prepareTokens } from '../dinov2/vision_transformer';
import { outputConvs } from '../dpt/dpt_head';
import { featureFusionBlock } from '../dpt/feature_fusion_block';
import { reassemble } from '../dpt/reassemble';
import { conv2d } from '../nn/conv2d';
import { StateDict } from '../weights/state_dict';

/** Hidden width of the head's output_conv2 (`head_features_2`). */
const HEAD_FEATURES_2 = 32;

// ---------------------------------------------------------------------------------------------
// Random weights

/**
 * Every key and PyTorch shape of an official checkpoint for `cfg` (including the keys inference
 * ignores: `mask_token`, refinenet4's resConfUnit1), in the official module order.
 */
export function officialShapes(cfg: ModelConfig): Array<[string, number[]]> {
  const C = cfg.embedDim;
  const p = cfg.patchSize;
  const out: Array<[string, number[]]> = [];
  const add = (k: string, s: number[]) => out.push([k, s]);
  const linear = (k: string, inF: number, outF: number) => { add(`${k}.weight`, [outF, inF]); add(`${k}.bias`, [outF]); };
  const conv = (k: string, inC: number, outC: number, kk: number, bias = true) => {
    add(`${k}.weight`, [outC, inC, kk, kk]);
    if (bias) add(`${k}.bias`, [outC]);
  };
  const norm = (k: string) => { add(`${k}.weight`, [C]); add(`${k}.bias`, [C]); };
  const bn = (k: string, n: number) => { for (const s of ['weight', 'bias', 'running_mean', 'running_var']) add(`${k}.${s}`, [n]); };

  add('pretrained.cls_token', [1, 1, C]);
  add('pretrained.pos_embed', [1, 1 + cfg.posGrid * cfg.posGrid, C]);
  add('pretrained.mask_token', [1, C]);
  conv('pretrained.patch_embed.proj', 3, C, p);
  for (let i = 0; i < cfg.depth; i++) {
    const b = `pretrained.blocks.${i}`;
    norm(`${b}.norm1`);
    linear(`${b}.attn.qkv`, C, 3 * C);
    linear(`${b}.attn.proj`, C, C);
    if (cfg.layerScale) add(`${b}.ls1.gamma`, [C]);
    norm(`${b}.norm2`);
    if (cfg.ffn === 'swiglu') {
      const hidden = swigluHidden(C);
      linear(`${b}.mlp.w12`, C, 2 * hidden);
      linear(`${b}.mlp.w3`, hidden, C);
    } else {
      linear(`${b}.mlp.fc1`, C, 4 * C);
      linear(`${b}.mlp.fc2`, 4 * C, C);
    }
    if (cfg.layerScale) add(`${b}.ls2.gamma`, [C]);
  }
  norm('pretrained.norm');

  const h = 'depth_head';
  const F = cfg.features;
  for (let i = 0; i < 4; i++) conv(`${h}.projects.${i}`, C, cfg.outChannels[i], 1);
  conv(`${h}.resize_layers.0`, cfg.outChannels[0], cfg.outChannels[0], 4); // ConvTranspose: [in, out, k, k], here in = out
  conv(`${h}.resize_layers.1`, cfg.outChannels[1], cfg.outChannels[1], 2);
  conv(`${h}.resize_layers.3`, cfg.outChannels[3], cfg.outChannels[3], 3);
  if (cfg.useClsToken) for (let i = 0; i < 4; i++) linear(`${h}.readout_projects.${i}.0`, 2 * C, C);
  for (let i = 1; i <= 4; i++) conv(`${h}.scratch.layer${i}_rn`, cfg.outChannels[i - 1], F, 3, false);
  for (let n = 1; n <= 4; n++) {
    const r = `${h}.scratch.refinenet${n}`;
    conv(`${r}.out_conv`, F, F, 1);
    for (const u of ['resConfUnit1', 'resConfUnit2']) {
      conv(`${r}.${u}.conv1`, F, F, 3);
      conv(`${r}.${u}.conv2`, F, F, 3);
      if (cfg.useBn) { bn(`${r}.${u}.bn1`, F); bn(`${r}.${u}.bn2`, F); }
    }
  }
  conv(`${h}.scratch.output_conv1`, F, F / 2, 3);
  conv(`${h}.scratch.output_conv2.0`, F / 2, HEAD_FEATURES_2, 3);
  conv(`${h}.scratch.output_conv2.2`, HEAD_FEATURES_2, 1, 1);
  // V1 metric: the DPT under `core.core.`, then ZoeDepth's head.
  return cfg.zoe ? [...out.map(([k, s]): [string, number[]] => [`core.core.${k}`, s]), ...zoeDepthHeadShapes(cfg, cfg.zoe)] : out;
}

/** mulberry32: a small seeded generator, so every bench run binds the same weights (tests reuse it). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A state dict of the right keys and shapes with small random values that keep activations in a
 * normal range through the whole network (no overflow, no denormals to slow the arithmetic down):
 * weights uniform with variance 1/fan_in, norm scales near 1, BatchNorm variances positive.
 * `shapes`: a part of the model only (default: all of it).
 */
export function randomStateDict(cfg: ModelConfig, seed = 1, shapes = officialShapes(cfg)): StateDict {
  const next = rng(seed);
  const sd: StateDict = new Map();
  for (const [key, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const leaf = key.slice(key.lastIndexOf('.') + 1);
    let scale = 0.02;
    let offset = 0;
    if (leaf === 'weight' && shape.length >= 2) {
      // Fan-in: Linear [out, in]; Conv [out, in, k, k]; ConvTranspose [in, out, k, k] sums over in.
      const fanIn = key.includes('resize_layers.0') || key.includes('resize_layers.1') ? shape[0] : n / shape[0];
      scale = Math.sqrt(3 / fanIn);
    } else if (leaf === 'weight' || leaf === 'running_var') {
      offset = 1; scale = 0.1; // norm scales, BatchNorm gamma and variance
    } else if (leaf === 'gamma') {
      offset = 0.1; scale = 0.05; // LayerScale
    }
    for (let i = 0; i < n; i++) data[i] = offset + scale * (2 * next() - 1);
    // ZoeDepth's log-binomial constants: arange(n_bins) and n_bins - 1, not weights.
    if (key.endsWith('log_binomial_transform.k_idx')) continue;
    if (key.endsWith('log_binomial_transform.K_minus_1')) data.fill(cfg.zoe ? cfg.zoe.nBins - 1 : 0);
    sd.set(key, { shape, data });
  }
  return sd;
}

// ---------------------------------------------------------------------------------------------
// FLOPs (a multiply-add counts 2)

export interface FlopCount {
  patchEmbed: number;
  /** All blocks that run (up to the last intermediate layer). */
  blocks: number;
  /** Per block: qkv, scores (q k^T), values (softmax v), proj, ffn. */
  block: { qkv: number; scores: number; values: number; proj: number; ffn: number };
  blocksRun: number;
  head: number;
  headParts: { readout: number; projects: number; resize: number; layerRn: number; fusion: number; output: number };
  /** V1 metric models: ZoeDepth's metric-bins head (its 1x1 convolutions; 0 otherwise). */
  zoe: number;
  encoder: number;
  total: number;
}

/** The convolutions and products of one forward pass on an H x W input, counted from the config. */
export function countFlops(cfg: ModelConfig, H: number, W: number, batch = 1): FlopCount {
  const p = cfg.patchSize;
  const h = H / p;
  const w = W / p;
  const hw = h * w;
  const N = hw + 1;
  const C = cfg.embedDim;
  const F = cfg.features;
  const oc = cfg.outChannels;
  const patchEmbed = 2 * hw * C * 3 * p * p;
  const ffn = cfg.ffn === 'swiglu'
    ? 2 * N * C * 2 * swigluHidden(C) + 2 * N * swigluHidden(C) * C
    : 2 * N * C * 4 * C * 2;
  const blk = { qkv: 2 * N * C * 3 * C, scores: 2 * N * N * C, values: 2 * N * N * C, proj: 2 * N * C * C, ffn };
  const perBlock = blk.qkv + blk.scores + blk.values + blk.proj + blk.ffn;
  const blocksRun = Math.max(...cfg.intermediateLayers) + 1;

  const down = (n: number) => Math.floor((n + 2 - 3) / 2) + 1; // 3x3, stride 2, pad 1
  const sizes = [16 * hw, 4 * hw, hw, down(h) * down(w)]; // level maps: x4, x2, x1, x1/2
  const conv = (pixels: number, inC: number, outC: number, k: number) => 2 * pixels * inC * outC * k * k;
  const readout = cfg.useClsToken ? 4 * 2 * hw * 2 * C * C : 0;
  const projects = oc.reduce((s, o) => s + 2 * hw * C * o, 0);
  const resize = 2 * hw * oc[0] * oc[0] * 16 + 2 * hw * oc[1] * oc[1] * 4 + conv(sizes[3], oc[3], oc[3], 3);
  const layerRn = sizes.reduce((s, px, i) => s + conv(px, oc[i], F, 3), 0);
  const rcu = (px: number) => 2 * conv(px, F, F, 3);
  const fusion = rcu(sizes[3]) + conv(sizes[2], F, F, 1) // refinenet4: unit 2, out_conv at level 3's size
    + 2 * rcu(sizes[2]) + conv(sizes[1], F, F, 1)
    + 2 * rcu(sizes[1]) + conv(sizes[0], F, F, 1)
    + 2 * rcu(sizes[0]) + conv(4 * sizes[0], F, F, 1); // refinenet1 upsamples x2
  const output = conv(4 * sizes[0], F, F / 2, 3) + conv(H * W, F / 2, HEAD_FEATURES_2, 3) + conv(H * W, HEAD_FEATURES_2, 1, 1);
  const head = readout + projects + resize + layerRn + fusion + output;
  const blocks = perBlock * blocksRun;
  const zoe = cfg.zoe ? zoeFlops(cfg, cfg.zoe, H * W, sizes[3], [hw, 4 * hw, 16 * hw, 64 * hw]) : 0;
  const scale = <T extends Record<string, number>>(o: T) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v * batch])) as T;
  return {
    patchEmbed: patchEmbed * batch,
    blocks: blocks * batch,
    block: scale(blk),
    blocksRun,
    head: head * batch,
    headParts: scale({ readout, projects, resize, layerRn, fusion, output }),
    zoe: zoe * batch,
    encoder: (patchEmbed + blocks) * batch,
    total: (patchEmbed + blocks + head + zoe) * batch,
  };
}

/** ZoeDepth's head: conv2 and the seed MLPs at l4_rn's pixels, projectors and attractors at r4..r1's, the log-binomial MLP at every pixel. */
function zoeFlops(cfg: ModelConfig, z: NonNullable<ModelConfig['zoe']>, pixels: number, l4: number, levels: number[]): number {
  const F = cfg.features;
  const E = z.binEmbeddingDim;
  const mlp = (px: number, inF: number, hidden: number, outF: number) => 2 * px * (inF * hidden + hidden * outF);
  const { attractorNormed } = binLayers(z);
  const inF = 32 + 1 + E;
  return 2 * l4 * F * F + mlp(l4, F, SEED_MLP_DIM, z.nBins) + mlp(l4, F, PROJECTOR_MLP_DIM, E)
    + levels.reduce((s, px, i) => s + mlp(px, F, PROJECTOR_MLP_DIM, E) + mlp(px, E, PROJECTOR_MLP_DIM, (attractorNormed ? 2 : 1) * z.nAttractors[i]), 0)
    + mlp(pixels, inF, Math.floor(inF / 2), 4);
}

// ---------------------------------------------------------------------------------------------
// Timing

export interface Stage {
  name: string;
  ms: number;
  /** FLOPs the stage computes (0 where it is data movement or elementwise work only). */
  flop: number;
}

export interface BenchOptions {
  height: number;
  width: number;
  runs: number;
  warmup?: number;
  batch?: number;
  /** Also time one pass stage by stage (default true). */
  stages?: boolean;
  seed?: number;
  /** Called after each timed run (progress). */
  onRun?: (i: number, ms: number) => void;
  /** Clock, CPU time and load average of the place it runs (default: defaultBenchHost; the CLI adds Node's load average). */
  host?: BenchHost;
}

/**
 * What a runtime offers for timing: Node has process CPU time and a load average, a page only a
 * clock. Kept out of this module so the bench runs unchanged inside Chromium (bench --browser).
 */
export interface BenchHost {
  now(): number;
  /** Process CPU time so far (ms, all threads), where the runtime tells. */
  cpuMs?(): number;
  /** 1-minute load average, where the runtime tells. */
  loadAverage?(): number;
}

/** Node's clock and process CPU time where `process` exists (no 'os' import: browser-safe), else a page's clock. */
const proc = (globalThis as { process?: NodeJS.Process }).process;
export const defaultBenchHost: BenchHost = proc?.cpuUsage
  ? { now: () => Number(proc.hrtime.bigint()) / 1e6, cpuMs: () => { const c = proc.cpuUsage(); return (c.user + c.system) / 1000; } }
  : { now: () => performance.now() };

export interface BenchResult {
  backend: string;
  height: number;
  width: number;
  batch: number;
  params: number;
  /** Binding the random weights to the backend (weights created once). */
  bindMs: number;
  warmupMs: number[];
  timesMs: number[];
  /**
   * Process CPU time of each timed run (all threads). Less sensitive than wall time to other
   * processes competing for the cores; wall ~ cpu / threads when threads scale perfectly.
   */
  cpuMs: number[];
  /** 1-minute load average before and after the timed runs (other work on the machine); NaN where unknown. */
  loadAverage: [number, number];
  minMs: number;
  medianMs: number;
  maxMs: number;
  flops: FlopCount;
  /** Achieved GFLOP/s at the median time. */
  gflops: number;
  stages?: Stage[];
  /** Peak bytes the backend held (tf.memory().numBytes sampled after binding and after each run). */
  tensorBytes: number;
}

let now = (): number => performance.now();

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A deterministic normalised-looking input [B, H, W, 3]. */
function benchInput(batch: number, H: number, W: number): tf.Tensor4D {
  const n = batch * H * W * 3;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.sin(i * 0.001) * 1.5;
  return tf.tensor4d(data, [batch, H, W, 3]);
}

/** Runs `fn` in a scope, waits for its outputs' data, returns them (kept) and the elapsed time. */
async function timed<T>(fn: () => T): Promise<{ out: T; ms: number }> {
  const t0 = now();
  const out = tf.tidy(() => fn() as unknown as tf.TensorContainer) as unknown as T;
  await Promise.all(tensorsOf(out as unknown as tf.TensorContainer).map((t) => t.data()));
  return { out, ms: now() - t0 };
}

function tensorsOf(c: tf.TensorContainer): tf.Tensor[] {
  if (c instanceof tf.Tensor) return [c];
  if (Array.isArray(c)) return c.flatMap((x) => tensorsOf(x as tf.TensorContainer));
  if (c && typeof c === 'object') return Object.values(c).flatMap((x) => tensorsOf(x as tf.TensorContainer));
  return [];
}

/**
 * One forward pass piece by piece, as `forward` composes them, timing each piece. Returns the
 * depth too, so a test can check that the staged pass computes what `forward` computes.
 */
export async function stagedForward(w: DepthAnythingWeights, cfg: ModelConfig, x: tf.Tensor4D): Promise<{ stages: Stage[]; depth: tf.Tensor3D }> {
  const [B, H, W] = x.shape;
  const patchH = H / cfg.patchSize;
  const patchW = W / cfg.patchSize;
  const f = countFlops(cfg, H, W, B);
  const stages: Stage[] = [];
  const held: tf.Tensor[] = [];
  const keep = <T>(r: { out: T; ms: number }, name: string, flop: number): T => {
    stages.push({ name, ms: r.ms, flop });
    held.push(...tensorsOf(r.out as unknown as tf.TensorContainer));
    return r.out;
  };
  try {
    let t = keep(await timed(() => prepareTokens(x, w.pretrained, cfg)), 'patch embedding + position', f.patchEmbed);

    // Block 0 part by part (every block has the same shapes), then every block whole.
    const b0 = w.pretrained.blocks[0];
    const eps = cfg.layerNormEps;
    const input = t;
    const n1 = keep(await timed(() => blockLayerNorm(input, b0.norm1, eps) as tf.Tensor3D), 'block 0: norm1', 0);
    const a = keep(await timed(() => attention(n1, b0.attn)), 'block 0: attention', f.block.qkv + f.block.scores + f.block.values + f.block.proj);
    const x1 = keep(await timed(() => tf.add(input, layerScale(a, b0.ls1)) as tf.Tensor3D), 'block 0: ls1 + residual', 0);
    const n2 = keep(await timed(() => blockLayerNorm(x1, b0.norm2, eps) as tf.Tensor3D), 'block 0: norm2', 0);
    const m = keep(await timed(() => (b0.mlp.kind === 'swiglu' ? swiglu(n2, b0.mlp) : mlp(n2, b0.mlp))), 'block 0: ffn', f.block.ffn);
    keep(await timed(() => tf.add(x1, layerScale(m, b0.ls2))), 'block 0: ls2 + residual', 0);

    const taken: tf.Tensor3D[] = [];
    let blocksMs = 0;
    for (let i = 0; i < f.blocksRun; i++) {
      const prev = t;
      const r = await timed(() => block(prev, w.pretrained.blocks[i]));
      blocksMs += r.ms;
      held.push(r.out);
      t = r.out;
      if (cfg.intermediateLayers.includes(i)) taken.push(t);
    }
    stages.push({ name: `blocks (${f.blocksRun})`, ms: blocksMs, flop: f.blocks });

    const layers = keep(await timed(() => taken.map((o): IntermediateLayer => {
      const normed = blockLayerNorm(o, w.pretrained.norm, eps) as tf.Tensor3D;
      const [b, n, c] = normed.shape;
      return { patch: tf.slice(normed, [0, 1, 0], [b, n - 1, c]), cls: tf.reshape(tf.slice(normed, [0, 0, 0], [b, 1, c]), [b, c]) as tf.Tensor2D };
    })), 'final norm (4 layers)', 0);

    const s = w.depth_head.scratch;
    const hp = f.headParts;
    const levels = keep(await timed(() => layers.map((layer, i) => reassemble(layer, i, w.depth_head.levels[i], patchH, patchW))),
      'head: readout, projects, resize', hp.readout + hp.projects + hp.resize);
    const rn = keep(await timed(() => [conv2d(levels[0], s.layer1_rn), conv2d(levels[1], s.layer2_rn), conv2d(levels[2], s.layer3_rn), conv2d(levels[3], s.layer4_rn)]),
      'head: layer1-4_rn', hp.layerRn);
    const size = (q: tf.Tensor4D): [number, number] => [q.shape[1], q.shape[2]];
    const path4 = keep(await timed(() => featureFusionBlock(rn[3], undefined, s.refinenet4, size(rn[2]))), 'head: refinenet4', 0);
    const path3 = keep(await timed(() => featureFusionBlock(path4, rn[2], s.refinenet3, size(rn[1]))), 'head: refinenet3', 0);
    const path2 = keep(await timed(() => featureFusionBlock(path3, rn[1], s.refinenet2, size(rn[0]))), 'head: refinenet2', 0);
    const path1 = keep(await timed(() => featureFusionBlock(path2, rn[0], s.refinenet1, undefined)), 'head: refinenet1', 0);
    // The fusion FLOPs as one figure, on the last refinenet's line.
    stages[stages.length - 1].flop = hp.fusion;
    const last = await timed(() => {
      const out = outputConvs(path1, patchH, patchW, s, w.depth_head.metric);
      const d = cfg.maxDepth !== undefined ? tf.mul(out, cfg.maxDepth) : tf.relu(out);
      return tf.reshape(d, [B, H, W]) as tf.Tensor3D;
    });
    stages.push({ name: 'head: output convs', ms: last.ms, flop: hp.output });
    return { stages, depth: last.out };
  } finally {
    tf.dispose(held);
  }
}

/**
 * Binds random weights of `cfg`, warms up, times `runs` forward passes (each ending in
 * `await depth.data()`), and optionally one staged pass. Leaves no tensor behind.
 */
export async function runBench(cfg: ModelConfig, opts: BenchOptions): Promise<BenchResult> {
  const { height: H, width: W, runs } = opts;
  const host = opts.host ?? defaultBenchHost;
  now = host.now;
  const batch = opts.batch ?? 1;
  const warmup = opts.warmup ?? 1;
  for (const [name, v] of [['height', H], ['width', W]] as const) {
    if (!Number.isInteger(v) || v <= 0 || v % cfg.patchSize !== 0) {
      throw new Error(`${name} must be a positive multiple of the patch size ${cfg.patchSize}; got ${v}`);
    }
  }
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`runs must be a positive integer; got ${runs}`);
  if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`warmup must be a non-negative integer; got ${warmup}`);

  const sd = randomStateDict(cfg, opts.seed ?? 1);
  let params = 0;
  for (const t of sd.values()) params += t.data.length;
  const tb = now();
  const w = bindWeights(sd, cfg, 'random weights');
  sd.clear(); // the backend holds its own copies now
  const bindMs = now() - tb;
  const x = benchInput(batch, H, W);
  let tensorBytes = tf.memory().numBytes;
  try {
    const cpuMs: number[] = [];
    const pass = async (): Promise<number> => {
      const c0 = host.cpuMs?.() ?? NaN;
      const t0 = now();
      const y = forward(w, cfg, x);
      await y.data();
      const ms = now() - t0;
      cpuMs.push((host.cpuMs?.() ?? NaN) - c0);
      tensorBytes = Math.max(tensorBytes, tf.memory().numBytes);
      y.dispose();
      return ms;
    };
    const warmupMs: number[] = [];
    for (let i = 0; i < warmup; i++) warmupMs.push(await pass());
    cpuMs.length = 0;
    const load0 = host.loadAverage?.() ?? NaN;
    const timesMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      timesMs.push(await pass());
      opts.onRun?.(i, timesMs[i]);
    }
    const loadAverage: [number, number] = [load0, host.loadAverage?.() ?? NaN];
    let stages: Stage[] | undefined;
    if (opts.stages !== false) {
      const staged = await stagedForward(w, cfg, x);
      staged.depth.dispose();
      stages = staged.stages;
    }
    const flops = countFlops(cfg, H, W, batch);
    const med = median(timesMs);
    return {
      backend: tf.getBackend(), height: H, width: W, batch, params, bindMs, warmupMs, timesMs, cpuMs, loadAverage,
      minMs: Math.min(...timesMs), medianMs: med, maxMs: Math.max(...timesMs),
      flops, gflops: flops.total / med / 1e6, ...(stages ? { stages } : {}), tensorBytes,
    };
  } finally {
    x.dispose();
    disposeWeights(w);
  }
}

/**
 * Every key and shape of a released Video Depth Anything checkpoint for `cfg`: the V2 network with
 * the head under `head.`, plus the four temporal modules (fixtures/vda/README.md).
 */
export function vdaOfficialShapes(cfg: VdaConfig): Array<[string, number[]]> {
  const m = cfg.model;
  const out = officialShapes(m).map(([k, s]): [string, number[]] => [k.replace(/^depth_head\./, 'head.'), s]);
  const widths = [m.outChannels[2], m.outChannels[3], m.features, m.features];
  widths.forEach((C, i) => {
    const tt = `head.motion_modules.${i}.temporal_transformer`;
    const b = `${tt}.transformer_blocks.0`;
    const pair = (k: string, o: number, inF: number, bias = true) => { out.push([`${k}.weight`, [o, inF]]); if (bias) out.push([`${k}.bias`, [o]]); };
    out.push([`${tt}.norm.weight`, [C]], [`${tt}.norm.bias`, [C]]);
    pair(`${tt}.proj_in`, C, C);
    for (let a = 0; a < cfg.temporal.numAttentionBlocks; a++) {
      const k = `${b}.attention_blocks.${a}`;
      for (const q of ['to_q', 'to_k', 'to_v']) pair(`${k}.${q}`, C, C, false);
      pair(`${k}.to_out.0`, C, C);
      out.push([`${k}.pos_encoder.pe`, [1, cfg.temporal.maxLen, C]]);
      out.push([`${b}.norms.${a}.weight`, [C]], [`${b}.norms.${a}.bias`, [C]]);
    }
    pair(`${b}.ff.net.0.proj`, 2 * cfg.temporal.ffMult * C, C);
    pair(`${b}.ff.net.2`, C, cfg.temporal.ffMult * C);
    out.push([`${b}.ff_norm.weight`, [C]], [`${b}.ff_norm.bias`, [C]]);
    pair(`${tt}.proj_out`, C, C);
  });
  return out;
}

/** Random weights of a VDA configuration; `pos_encoder.pe` is the official sin/cos table. */
export function randomVdaStateDict(cfg: VdaConfig, seed = 1): StateDict {
  const sd = randomStateDict(cfg.model, seed, vdaOfficialShapes(cfg));
  for (const [key, t] of sd) {
    if (!key.endsWith('.pos_encoder.pe')) continue;
    const [, L, C] = t.shape;
    for (let p = 0; p < L; p++) {
      for (let i = 0; i < C; i += 2) {
        const a = p * Math.fround(Math.exp((i * -Math.log(10000)) / C));
        t.data[p * C + i] = Math.sin(a);
        if (i + 1 < C) t.data[p * C + i + 1] = Math.cos(a);
      }
    }
  }
  return sd;
}
