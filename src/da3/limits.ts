/**
 * Depth Anything 3's pass against the backend limits (src/backends/limits.ts, wasm_memory.ts).
 * What grows with the number of views S: the global blocks attend over all S * (1 + h*w) tokens,
 * so one head's scores are [S*N, S*N] (quadratic in S), and the token stream and its kept outputs
 * are linear in S. The head runs 8 views at a time (the official chunk size). From the
 * configuration alone, by module, as src/depth/limits.ts does for Depth Anything V2.
 */
import * as tf from '@tensorflow/tfjs-core';
import { attentionLayout } from '../backends/choices';
import { queryRowsPerChunk, scoreChunkElements } from '../dinov2/attention';
import { GpuLimits, LimitProblem, PassTensor, activeGpuLimits, describeWorst, elements, smallerSizes, tensorsPastLimits } from '../backends/limits';
import { WASM_MAX_HEAP } from '../backends/wasm_memory';
import { CAM_ENC, Da3Config, Da3NetConfig, HEAD_CHUNK, PATCH_SIZE, POS_GRID } from '../config/da3';
import { swigluHidden } from '../dinov2/swiglu_ffn';

/** tfjs-webgl's default; the flag exists only once the webgl backend is registered (a table made elsewhere assumes the default). */
function webglIm2col(): boolean {
  try { return tf.env().getBool('WEBGL_CONV_IM2COL'); } catch { return true; }
}

/** The largest tensors of one pass over S views at H x W on `backend` (each a buffer or texture of its own). */
export function da3PassTensors(cfg: Da3Config, S: number, H: number, W: number, backend: string): PassTensor[] {
  const n = cfg.net;
  const h = H / PATCH_SIZE;
  const w = W / PATCH_SIZE;
  const N = 1 + h * w;
  const C = n.embedDim;
  const heads = n.numHeads;
  const hidden = n.ffn === 'swiglu' ? 2 * swigluHidden(C) : 4 * C;
  const B = Math.min(S, HEAD_CHUNK);
  const F = cfg.head.features;
  const list: PassTensor[] = [
    { name: 'backbone blocks.* qkv (all views)', shape: [S, N, 3 * C] },
    { name: 'backbone blocks.* mlp hidden (all views)', shape: [S, N, hidden] },
  ];
  const fused = attentionLayout(backend) === 'fused';
  // Plain blocks (before rope/qk-norm): per head on wasm; elsewhere all heads of a few views at a time.
  const plainViews = Math.min(S, Math.max(1, Math.floor(scoreChunkElements() / (heads * N * N))));
  list.push(fused
    ? { name: 'backbone local attention scores (all heads)', shape: [plainViews, heads, N, N] }
    : { name: 'backbone local attention scores (one head)', shape: [N, N] });
  if (n.ropeStart !== -1) {
    const b = fused ? S : 1;
    list.push({ name: 'backbone local attention scores (RoPE blocks, one head)', shape: [b, queryRowsPerChunk(b, N), N] });
  }
  if (n.altStart !== -1) list.push({ name: 'backbone global attention scores (one head, a chunk of queries over all views)', shape: [1, queryRowsPerChunk(1, S * N), S * N] });
  list.push(
    { name: 'head resize_layers.0', shape: [B, 4 * h, 4 * w, cfg.head.outChannels[0]] },
    { name: 'head scratch.refinenet1', shape: [B, 8 * h, 8 * w, F] },
    { name: 'head scratch.output_conv1 (upsampled)', shape: [B, H, W, F / 2] },
    { name: 'head scratch.output_conv2.0', shape: [B, H, W, 32] },
  );
  if (backend === 'webgl' && webglIm2col()) {
    list.push({ name: 'head scratch.refinenet1 3x3 conv (im2col)', shape: [B, 9 * F, 64 * h * w], packed: true });
    list.push({ name: 'head scratch.output_conv2.0 (im2col)', shape: [B, 9 * (F / 2), H * W], packed: true });
  }
  return list;
}

/**
 * wasm heap per token and view, in float32 units of the embedding width C: the token stream, the
 * four kept outputs and their normed copies (2C each) and one block's intermediates. Measured
 * (DA3-SMALL, tf.profile peak bytes, 280x280 and 504x504, 1 to 8 views): about 76 C per token.
 */
const WASM_TOKEN_FLOATS_PER_C = 80;
/** The head's maps of one view, in float32 per patch and head feature (DA3-SMALL: about 2250 F per patch, measured). */
const WASM_HEAD_FLOATS_PER_PATCH_F = 2300;
/** Heap over the tensors' own bytes (allocator fragmentation): measured up to 8 %. */
const WASM_FRAGMENTATION = 1.1;

/** Parameters of a configuration (nn.Module.parameters(): the tied aux LayerNorm once). */
export function da3ParameterCount(cfg: Da3Config): number {
  const blockParams = (C: number, heads: number, ffn: 'mlp' | 'swiglu', qk: boolean) => {
    const hid = swigluHidden(C);
    const mlp = ffn === 'swiglu' ? C * 2 * hid + 2 * hid + hid * C + C : 8 * C * C + 5 * C;
    return 4 * C + 3 * C * C + 3 * C + C * C + C + 2 * C + mlp + (qk ? 4 * (C / heads) : 0);
  };
  const n: Da3NetConfig = cfg.net;
  const C = n.embedDim;
  let p = 3 * PATCH_SIZE * PATCH_SIZE * C + C + C + (1 + POS_GRID * POS_GRID) * C + (n.altStart !== -1 ? 2 * C : 0) + 2 * C;
  for (let i = 0; i < n.depth; i++) p += blockParams(C, n.numHeads, n.ffn, n.qknormStart !== -1 && i >= n.qknormStart);
  const { dimIn, features: F, outChannels: oc, outputDim } = cfg.head;
  const conv = (inC: number, outC: number, k: number, bias = true) => inC * outC * k * k + (bias ? outC : 0);
  const rcu = 2 * conv(F, F, 3);
  const chain = 3 * (2 * rcu + conv(F, F, 1)) + rcu + conv(F, F, 1);
  const out2 = (outC: number) => conv(F / 2, 32, 3) + conv(32, outC, 1);
  p += oc.reduce((a, o) => a + conv(dimIn, o, 1) + conv(o, F, 3, false), 0);
  p += conv(oc[0], oc[0], 4) + conv(oc[1], oc[1], 2) + conv(oc[3], oc[3], 3);
  p += chain + conv(F, F / 2, 3) + out2(outputDim);
  if (cfg.head.kind === 'dualdpt') {
    p += 2 * dimIn + chain;
    p += 4 * (3 * conv(F, F / 2, 3) + 2 * conv(F / 2, F, 3));
    p += 4 * (conv(F / 2, 32, 3) + conv(32, 7, 1)) + 2 * 32;
  } else {
    p += out2(1);
  }
  if (cfg.camEnc) {
    const c = cfg.camEnc.dimOut;
    p += CAM_ENC.dimIn * (c / 2) + c / 2 + (c / 2) * c + c + 4 * c + CAM_ENC.trunkDepth * blockParams(c, CAM_ENC.numHeads, 'mlp', false);
  }
  if (cfg.camDec) {
    const d = cfg.camDec.dimIn;
    p += 2 * (d * d + d) + 9 * d + 9;
  }
  return p;
}

const fitsGpu = (cfg: Da3Config, S: number, H: number, W: number, limits: GpuLimits): LimitProblem[] =>
  tensorsPastLimits(da3PassTensors(cfg, S, H, W, limits.backend), limits);

/**
 * wasm: an estimate of the heap a pass of S views at H x W grows to: the weights twice (XNNPACK's
 * packed copies), the token stream of all views, one view's head maps (the head runs a view at a
 * time) and the largest attention scores (twice: with their softmax), times the allocator's
 * fragmentation. `largest`: the tensor that grows fastest with the views, for the message.
 */
export function da3WasmHeap(cfg: Da3Config, S: number, H: number, W: number, weightBytes: number): { bytes: number; largest: PassTensor } {
  const list = da3PassTensors(cfg, S, H, W, 'wasm');
  const largest = list.reduce((a, t) => (elements(t.shape) > elements(a.shape) ? t : a));
  const h = H / PATCH_SIZE;
  const w = W / PATCH_SIZE;
  const N = 1 + h * w;
  const scores = Math.max(...list.filter((t) => t.name.includes('scores')).map((t) => elements(t.shape)));
  const floats = WASM_TOKEN_FLOATS_PER_C * cfg.net.embedDim * S * N + WASM_HEAD_FLOATS_PER_PATCH_F * cfg.head.features * h * w + 2 * scores;
  return { bytes: 2 * weightBytes + WASM_FRAGMENTATION * 4 * floats, largest };
}

/** The most views (up to `cap`) whose pass at H x W fits `limits` (a GPU's, or wasm's 4 GiB with these weights); 0 when none. */
export function maxViews(cfg: Da3Config, H: number, W: number, limits: GpuLimits | { backend: 'wasm'; weightBytes: number }, cap = 4096): number {
  const fits = (S: number) => (limits.backend === 'wasm' ? da3WasmHeap(cfg, S, H, W, limits.weightBytes).bytes <= WASM_MAX_HEAP : fitsGpu(cfg, S, H, W, limits).length === 0);
  if (!fits(1)) return 0;
  let lo = 1;
  let hi = 2;
  while (hi <= cap && fits(hi)) { lo = hi; hi *= 2; }
  hi = Math.min(hi, cap + 1);
  while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (fits(mid)) lo = mid; else hi = mid; }
  return lo;
}

const views = (k: number): string => `${k} view${k === 1 ? '' : 's'}`;

/** "at most K views fit at HxW, or S views at h x w" (what fits instead of S views at H x W), by `fits`. */
function whatFits(S: number, H: number, W: number, fits: (s: number, h: number, w: number) => boolean, most: number): string {
  let size = '';
  for (const [h, w] of smallerSizes(PATCH_SIZE, H, W)) {
    if (fits(S, h, w)) { size = `${views(S)} fit${S === 1 ? 's' : ''} at ${h}x${w}`; break; }
  }
  const here = most ? `at most ${views(most)} fit at ${H}x${W}` : `no view fits at ${H}x${W}`;
  return size ? `${here}; ${size}` : `${here}: use a smaller size`;
}

/**
 * Before a pass: one line when S views at H x W exceed the active backend's limits (webgpu
 * bindings, webgl textures, wasm's 4 GiB): which tensor or what memory, which limit, how many views
 * fit at this size and the largest size at which S views fit. No-op on cpu and tensorflow (their
 * memory is the machine's).
 */
export function checkDa3Limits(cfg: Da3Config, S: number, H: number, W: number, weightBytes: number): void {
  const backend = tf.getBackend();
  const gpu = activeGpuLimits();
  if (gpu) {
    const problems = fitsGpu(cfg, S, H, W, gpu);
    if (!problems.length) return;
    const most = maxViews(cfg, H, W, gpu, S);
    const hint = whatFits(S, H, W, (s, h, w) => fitsGpu(cfg, s, h, w, gpu).length === 0, most);
    throw new Error(`${views(S)} at ${H}x${W} exceed${S === 1 ? 's' : ''} a ${backend} limit: ${describeWorst(problems)}; ${hint} (or use --backend wasm)`);
  }
  if (backend !== 'wasm') return;
  const { bytes } = da3WasmHeap(cfg, S, H, W, weightBytes);
  if (bytes <= WASM_MAX_HEAP) return;
  const most = maxViews(cfg, H, W, { backend: 'wasm', weightBytes }, S);
  const hint = whatFits(S, H, W, (s, h, w) => da3WasmHeap(cfg, s, h, w, weightBytes).bytes <= WASM_MAX_HEAP, most);
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
  throw new Error(`${views(S)} at ${H}x${W} do${S === 1 ? 'es' : ''} not fit the wasm backend's 4 GiB memory: the weights twice (${gib(2 * weightBytes)}, with XNNPACK's packed copies), the token stream of ${views(S)} and one view's head maps need about ${gib(bytes)}; ${hint} (or use another backend)`);
}
