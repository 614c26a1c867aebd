/**
 * webgpu in Node (Dawn from the `webgpu` package on Mesa's GL ES): the adapter it reports, auto
 * passing over a software adapter, clear errors, leak checks (tensors and GPU buffers), and the
 * GPU limit checks. Every parity case runs in test/parity/parity_webgpu.test.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backends/node';
import { hardwareGpuMayExist } from '../../src/backends/gpu_probe';
import { isSoftwareAdapter, describeAdapter } from '../../src/backends/adapter';
import { backendMemory } from '../../src/backends/memory';
import { setBandBudgetForTesting } from '../../src/backends/limits';
import { checkGpuLimits, largestFittingSize, largestPassTensors, limitProblems } from '../../src/depth/limits';
import { officialConfig } from '../../src/config/depth';
import { parityFromStateDict } from '../../src/verify/parity';
import { forward, bindWeights, disposeWeights } from '../../src/depth/depth_anything';
import { loadCase } from '../helpers';

/**
 * The webgpu backend releases a buffer only once the commands that used it are submitted: a read
 * submits them, so counts are compared after one.
 */
async function settled(): Promise<ReturnType<typeof backendMemory>> {
  const t = tf.tidy(() => tf.add(tf.ones([1]), 1));
  await t.data();
  t.dispose();
  return backendMemory();
}

describe('webgpu in Node', () => {
  test('starts on Dawn and says which adapter it runs on', async () => {
    const info = await initBackend('webgpu');
    expect(info.name).toBe('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
    expect(info.adapter?.api).toBe('webgpu');
    expect(info.adapter?.backend).toBe('Dawn opengles');
    // Mesa's llvmpipe here: a CPU renderer, which Dawn does not flag as a fallback adapter.
    expect(info.adapter?.software).toBe(isSoftwareAdapter(info.adapter!));
    expect(info.description).toBe(`webgpu (${describeAdapter(info.adapter!)})`);
    expect(info.adapter?.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
  });

  test('auto never picks a software adapter; it says so in one line', async () => {
    // Where a GPU may exist (a render node; forced here), auto starts Dawn and looks at the adapter.
    process.env.DEPTH_ANYTHING_GPU_PROBE = 'always';
    let info;
    try {
      info = await initBackend('auto', { warn: false });
    } finally {
      delete process.env.DEPTH_ANYTHING_GPU_PROBE;
    }
    const adapter = (await initBackend('webgpu')).adapter!;
    if (adapter.software) {
      expect(info.name).not.toBe('webgpu');
      expect(info.warning).toMatch(/^auto skips webgpu on .*software rendering.*--backend webgpu forces it/);
    } else {
      expect(info.name).toBe('webgpu');
    }
  });

  test('auto does not start Dawn where no GPU can exist (no render node): no adapter, no warning', async () => {
    process.env.DEPTH_ANYTHING_GPU_PROBE = 'never';
    try {
      const info = await initBackend('auto', { warn: false });
      expect(info.name).not.toBe('webgpu');
      expect(info.warning).toBeUndefined();
      expect(hardwareGpuMayExist()).toBe(false);
      process.env.DEPTH_ANYTHING_GPU_PROBE = 'sometimes';
      expect(() => hardwareGpuMayExist()).toThrow('DEPTH_ANYTHING_GPU_PROBE must be "always" or "never"; got "sometimes"');
    } finally {
      delete process.env.DEPTH_ANYTHING_GPU_PROBE;
      await initBackend('webgpu'); // the tests below run on webgpu
    }
  });

  test('webgl in Node is a one-line error naming what to use instead', async () => {
    await expect(initBackend('webgl')).rejects.toThrow('backend "webgl" runs only in a browser (Node has no WebGL); in Node use --backend webgpu or wasm, or run parity/bench with --browser (headless Chromium)');
  });

  test('software renderers are recognised by name or flag', () => {
    expect(isSoftwareAdapter({ device: 'llvmpipe-llvm-15-0-6-256-bits-' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'google', architecture: 'swiftshader' })).toBe(true);
    expect(isSoftwareAdapter({ device: 'ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero)))' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'nvidia', device: 'NVIDIA H100 80GB HBM3', isFallbackAdapter: true })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H100 80GB HBM3' })).toBe(false);
  });

  test('a parity run leaves no tensor and no GPU buffer behind', async () => {
    await initBackend('webgpu');
    const c = await loadCase('v2-tiny');
    const before = await settled();
    expect(before.gpuResources).toBeDefined();
    const report = await parityFromStateDict(c.stateDict, c.config, c.activations, 'v2-tiny');
    expect(report.ok).toBe(true);
    expect(await settled()).toEqual(before);
  });

  test('attention in chunks of query rows and the head in bands (forced by a small budget): every recorded tensor within tolerance, no buffer left', async () => {
    await initBackend('webgpu');
    const c = await loadCase('v2-tiny');
    const before = await settled();
    setBandBudgetForTesting(4 * 89 * 20); // one head, 20 of its 89 query rows at a time; 1-row bands of the head (test/model/head_bands.test.ts)
    try {
      const report = await parityFromStateDict(c.stateDict, c.config, c.activations, 'v2-tiny');
      expect(report.comparisons.filter((r) => !r.ok).map((r) => r.key)).toEqual([]);
      expect(report.ok).toBe(true);
    } finally {
      setBandBudgetForTesting(undefined);
    }
    expect(await settled()).toEqual(before);
  });

  test('a forward pass leaves only its output; disposing it restores the buffers in use', async () => {
    await initBackend('webgpu');
    const c = await loadCase('v2-tiny');
    const w = bindWeights(c.stateDict, c.config, 'v2-tiny');
    const x = tf.zeros([1, 28, 42, 3]) as tf.Tensor4D;
    try {
      // Weights go to GPU buffers on first use: count after a pass that has been read.
      const warm = forward(w, c.config, x);
      await warm.data();
      warm.dispose();
      const before = await settled();
      const y = forward(w, c.config, x);
      await y.data();
      expect(tf.memory().numTensors).toBe(before.numTensors + 1);
      y.dispose();
      expect(await settled()).toEqual(before);
    } finally {
      x.dispose();
      disposeWeights(w);
    }
  });
});

/**
 * The test's own account of what the limit check must say, from the architecture and an adapter's
 * limits (so the expectations hold on any adapter, and are pinned to hand-worked figures below).
 * The largest tensors of a ViT DPT pass on webgpu (fused attention), float32 (4 bytes a value):
 * qkv [B, N, 3C], the scores of one query row of one head [B, 1, 1, N] (split to fit), the MLP hidden [B, N, 4C] (ViT-S/B/L: no
 * SwiGLU), and in the head the first reassembled map (4x the patch grid), refinenet1 (8x),
 * output_conv1 upsampled to the input [B, H, W, F/2] and output_conv2.0 [B, H, W, 32].
 */
type Config = ReturnType<typeof officialConfig>;
type Part = 'model' | 'encoder';
interface AdapterLimits { maxBinding: number; maxBuffer: number }
const MiB = 2 ** 20;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

function passTensors(cfg: Config, H: number, W: number, part: Part): Array<[string, number[]]> {
  const ph = H / cfg.patchSize, pw = W / cfg.patchSize, N = 1 + ph * pw, C = cfg.embedDim, F = cfg.features;
  expect(cfg.ffn).toBe('mlp');
  const encoder: Array<[string, number[]]> = [
    ['pretrained.blocks.*.attn.qkv', [1, N, 3 * C]],
    // Split by head and query rows to fit: it fits when one row of one head does.
    ['attention scores (one head, one query row at least)', [1, 1, 1, N]],
    ['pretrained.blocks.*.mlp hidden', [1, N, 4 * C]],
  ];
  const head: Array<[string, number[]]> = [
    ['depth_head.resize_layers.0', [1, 4 * ph, 4 * pw, cfg.outChannels[0]]],
    ['depth_head.scratch.refinenet1', [1, 8 * ph, 8 * pw, F]],
    // The full-resolution stage runs in bands of rows: it fits when one row (and its halo) does.
    ['depth_head.scratch.output_conv1 (upsampled, band)', [1, 3, W, F / 2]],
    ['depth_head.scratch.output_conv2.0 (band)', [1, 3, W, 32]],
  ];
  return part === 'encoder' ? encoder : [...encoder, ...head];
}

/** The tensors past a limit: a binding past maxStorageBufferBindingSize, else a buffer past maxBufferSize. */
function pastLimits(cfg: Config, H: number, W: number, lim: AdapterLimits, part: Part) {
  return passTensors(cfg, H, W, part).flatMap(([name, shape]) => {
    const bytes = 4 * shape.reduce((a, b) => a * b, 1);
    if (bytes > lim.maxBinding) return [{ name, shape, bytes, limit: lim.maxBinding, limitName: 'maxStorageBufferBindingSize' }];
    if (bytes > lim.maxBuffer) return [{ name, shape, bytes, limit: lim.maxBuffer, limitName: 'maxBufferSize' }];
    return [];
  });
}

/** The largest size below H x W (multiples of 14, the longer side one patch shorter at a time, the other in proportion) that fits. */
function expectedFit(cfg: Config, H: number, W: number, lim: AdapterLimits, part: Part = 'model'): [number, number] | undefined {
  const long = Math.max(H, W), short = Math.min(H, W);
  for (let k = long / 14 - 1; k >= 1; k--) {
    const other = Math.max(14, Math.round((k * short) / long) * 14);
    const [h, w] = H >= W ? [k * 14, other] : [other, k * 14];
    if (pastLimits(cfg, h, w, lim, part).length === 0) return [h, w];
  }
  return undefined;
}

/** The one line checkGpuLimits must throw at H x W (undefined: it must not throw). */
function expectedRefusal(cfg: Config, H: number, W: number, lim: AdapterLimits, part: Part = 'model'): string | undefined {
  const past = pastLimits(cfg, H, W, lim, part);
  if (past.length === 0) return undefined;
  const worst = past.reduce((a, b) => (b.bytes / b.limit > a.bytes / a.limit ? b : a));
  const fits = expectedFit(cfg, H, W, lim, part);
  return `input ${H}x${W} exceeds a webgpu limit: ${worst.name} [${worst.shape.join(', ')}] needs ${mib(worst.bytes)}, past the ${worst.limitName} of this adapter (${mib(worst.limit)})` +
    `${fits ? `; ${fits[0]}x${fits[1]} fits` : ''} (or use --backend wasm)`;
}

/** The smallest square input (a multiple of 14) with a tensor past a limit: attention grows as the fourth power of the side, so there is one. */
function smallestRefused(cfg: Config, lim: AdapterLimits, part: Part): number {
  let s = 14;
  while (pastLimits(cfg, s, s, lim, part).length === 0) s += 14;
  return s;
}

/** The message `f` throws, or undefined. */
function refusal(f: () => void): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  return undefined;
}

describe('GPU limits', () => {
  const vits = officialConfig('v2', 'vits');
  const vitl = officialConfig('v2', 'vitl');
  const adapterLimits = (): AdapterLimits => {
    const l = (tf.backend() as unknown as { device: { limits: { maxStorageBufferBindingSize: number; maxBufferSize: number } } }).device.limits;
    return { maxBinding: l.maxStorageBufferBindingSize, maxBuffer: l.maxBufferSize };
  };

  test('the expected refusals reproduce the hand-worked figures of Dawn GL ES (128 MiB per binding, 2 GiB per buffer)', () => {
    const dawn = { maxBinding: 128 * MiB, maxBuffer: 2048 * MiB };
    // Attention is split by head and query rows to fit, and the head's full-resolution stage runs in
    // bands, so the largest unsplit tensor is refinenet1 [1, 8h, 8w, F] (F = 64 for ViT-S, 256 for ViT-L).
    expect(expectedRefusal(vits, 700, 700, dawn)).toBeUndefined(); // its 6 heads' scores would be 143 MiB
    // ViT-S at 1274: refinenet1 [1, 728, 728, 64] is 129.4 MiB; 1260x1260 fits.
    expect(expectedRefusal(vits, 1274, 1274, dawn)).toBe('input 1274x1274 exceeds a webgpu limit: depth_head.scratch.refinenet1 [1, 728, 728, 64] needs 129.4 MiB, past the maxStorageBufferBindingSize of this adapter (128.0 MiB); 1260x1260 fits (or use --backend wasm)');
    // ViT-L at 518: the upsampled output_conv1 [1, 518, 518, 128] would be 131 MiB; it runs in bands.
    expect(expectedRefusal(vitl, 518, 518, dawn)).toBeUndefined();
    // ...and 4:3 and 3:2 photos at 518 (518x700: refinenet1 [1, 296, 400, 256], 115.6 MiB; the 16
    // heads' scores [1, 16, 1851, 1851] would be 209 MiB).
    expect(expectedRefusal(vitl, 518, 700, dawn)).toBeUndefined();
    expect(expectedRefusal(vitl, 518, 770, dawn)).toBeUndefined();
    // 518x784 (demo01.jpg's shape): refinenet1 [1, 296, 448, 256] is 129.5 MiB; 504x770 fits.
    expect(expectedRefusal(vitl, 518, 784, dawn)).toMatch(/: depth_head\.scratch\.refinenet1 \[1, 296, 448, 256\] needs 129\.5 MiB.*; 504x770 fits/);
    // encode runs no DPT head, so only the encoder's tensors count: the MLP hidden layer [1, N, 4C] decides.
    expect(expectedRefusal(vitl, 1260, 1260, dawn, 'encoder')).toBeUndefined();
    expect(expectedRefusal(vitl, 1274, 1274, dawn, 'encoder')).toMatch(/: pretrained\.blocks\.\*\.mlp hidden \[1, 8282, 4096\] needs 129\.4 MiB.*; 1260x1260 fits/);
    // Past maxBufferSize only where the binding allows more (a buffer limit of 16 MiB, say: refinenet1 is 21.4 MiB).
    expect(expectedRefusal(vits, 518, 518, { maxBinding: 128 * MiB, maxBuffer: 16 * MiB })).toMatch(/refinenet1 \[1, 296, 296, 64\] needs 21\.4 MiB, past the maxBufferSize of this adapter \(16\.0 MiB\)/);
    expect(smallestRefused(vits, dawn, 'model')).toBe(1274);
    expect(smallestRefused(vitl, dawn, 'model')).toBe(644); // refinenet1 [1, 368, 368, 256]: 132.3 MiB
    expect(smallestRefused(vitl, dawn, 'encoder')).toBe(1274);
  });

  test('past maxStorageBufferBindingSize: one line naming the tensor, the limit and a size that fits (from this adapter\'s limits)', async () => {
    await initBackend('webgpu');
    const lim = adapterLimits();
    // WebGPU guarantees every adapter at least 128 MiB per binding and 256 MiB per buffer.
    expect(lim.maxBinding).toBeGreaterThanOrEqual(128 * MiB);
    expect(lim.maxBuffer).toBeGreaterThanOrEqual(256 * MiB);
    const expectCheck = (cfg: Config, H: number, W: number, part: Part = 'model') => {
      const want = expectedRefusal(cfg, H, W, lim, part);
      expect([H, W, part, refusal(() => checkGpuLimits(cfg, H, W, 1, part))]).toEqual([H, W, part, want]);
      expect(limitProblems(cfg, H, W, 1, part).map((p) => p.tensor.name).sort()).toEqual(pastLimits(cfg, H, W, lim, part).map((p) => p.name).sort());
    };
    // The sizes of the hand-worked figures (on a 128 MiB adapter, exactly those lines).
    expectCheck(vits, 518, 518);
    expectCheck(vits, 1274, 1274);
    expectCheck(vits, 1260, 1260);
    expectCheck(vitl, 518, 518);
    expectCheck(vitl, 518, 784);
    expectCheck(vitl, 1274, 1274, 'encoder');
    expect(largestFittingSize(vitl, 518, 784, 1)).toEqual(expectedFit(vitl, 518, 784, lim));
    // Sizes from this adapter's limits, so that something is refused and something fits on any adapter.
    for (const cfg of [vits, vitl]) {
      for (const part of ['model', 'encoder'] as const) {
        const s = smallestRefused(cfg, lim, part);
        expect(expectedRefusal(cfg, s, s, lim, part)).toMatch(/^input \d+x\d+ exceeds a webgpu limit: .* past the max(StorageBufferBinding|Buffer)Size of this adapter .*; \d+x\d+ fits \(or use --backend wasm\)$/);
        expectCheck(cfg, s, s, part);
        expectCheck(cfg, s - 14, s - 14, part);
        expectCheck(cfg, s, s + 140, part);
        expect(largestFittingSize(cfg, s, s, 1, part)).toEqual([s - 14, s - 14]);
      }
    }
    // A head wide enough to pass the limit where the encoder still fits: the model is refused,
    // encode is not. (The full-resolution stage runs in bands; refinenet1, at 8x the patch grid, does not.)
    const s = smallestRefused(vits, lim, 'encoder') - 14;
    const side = (8 * s) / 14;
    const wide = { ...vits, features: 2 * (Math.floor(lim.maxBinding / (4 * side * side * 2)) + 1) };
    expect(expectedRefusal(wide, s, s, lim)).toMatch(/: depth_head\.scratch\.refinenet1 .* past the maxStorageBufferBindingSize/);
    expectCheck(wide, s, s);
    expect(expectedRefusal(wide, s, s, lim, 'encoder')).toBeUndefined();
    expectCheck(wide, s, s, 'encoder');
  });

  test('a pass past the limit is refused before it runs (Dawn would drop it and read zeros)', async () => {
    await initBackend('webgpu');
    const c = await loadCase('v2-tiny');
    const w = bindWeights(c.stateDict, c.config, 'v2-tiny');
    try {
      const maxBinding = (tf.backend() as unknown as { device: { limits: { maxStorageBufferBindingSize: number } } }).device.limits.maxStorageBufferBindingSize;
      // The smallest square input whose largest tensor passes the binding limit.
      let s = 14;
      while (limitProblems(c.config, s, s, 1).length === 0) s += 14 * 8;
      expect(largestPassTensors(c.config, s, s, 1, 'webgpu').some((t) => 4 * t.shape.reduce((a, b) => a * b, 1) > maxBinding)).toBe(true);
      const before = tf.memory().numTensors;
      const x = tf.zeros([1, s, s, 3]) as tf.Tensor4D;
      expect(() => forward(w, c.config, x)).toThrow(/exceeds a webgpu limit: .* past the maxStorageBufferBindingSize/);
      x.dispose();
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      disposeWeights(w);
    }
  });

  test('cpu and wasm have no GPU limits', async () => {
    await initBackend('cpu');
    expect(limitProblems(vitl, 1400, 1400, 1)).toEqual([]);
    expect(() => checkGpuLimits(vitl, 1400, 1400)).not.toThrow();
  });
});
