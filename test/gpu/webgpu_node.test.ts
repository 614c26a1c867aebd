/**
 * webgpu in Node (Dawn from the `webgpu` package on Mesa's GL ES): the adapter it reports, auto
 * passing over a software adapter, clear errors, leak checks (tensors and GPU buffers), and the
 * GPU limit checks. Every parity case runs in test/parity/parity_webgpu.test.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backends/node';
import { hardwareGpuMayExist } from '../../src/backends/node_webgpu';
import { isSoftwareAdapter, describeAdapter } from '../../src/backends/adapter';
import { backendMemory } from '../../src/backends/memory';
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

describe('GPU limits', () => {
  const vits = officialConfig('v2', 'vits');
  const vitl = officialConfig('v2', 'vitl');

  test('past maxStorageBufferBindingSize: one line naming the tensor, the limit and a size that fits', async () => {
    await initBackend('webgpu');
    const maxBinding = (tf.backend() as unknown as { device: { limits: { maxStorageBufferBindingSize: number } } }).device.limits.maxStorageBufferBindingSize;
    expect(() => checkGpuLimits(vits, 518, 518)).not.toThrow();
    if (maxBinding !== 128 * 2 ** 20) return; // the figures below are Dawn GL ES's 128 MiB
    // ViT-S at 700: the 6 heads' scores [1, 6, 2501, 2501] are 143 MiB.
    expect(() => checkGpuLimits(vits, 700, 700)).toThrow('input 700x700 exceeds a webgpu limit: attention scores (all heads) [1, 6, 2501, 2501] needs 143.2 MiB, past the maxStorageBufferBindingSize of this adapter (128.0 MiB); 672x672 fits (or use --backend wasm)');
    // ViT-L at 518: the upsampled output_conv1 [1, 518, 518, 128] is 131 MiB.
    expect(() => checkGpuLimits(vitl, 518, 518)).toThrow(/depth_head\.scratch\.output_conv1 \(upsampled\) \[1, 518, 518, 128\] needs 131\.0 MiB.*504x504 fits/);
    expect(largestFittingSize(vitl, 518, 700, 1)).toEqual([434, 588]);
    expect(limitProblems(vits, 672, 672, 1)).toEqual([]);
    // encode runs no DPT head, so only the encoder's tensors count: ViT-L encodes 518x518 here.
    expect(() => checkGpuLimits(vitl, 518, 518, 1, 'encoder')).not.toThrow();
    expect(() => checkGpuLimits(vits, 700, 700, 1, 'encoder')).toThrow(/attention scores \(all heads\) \[1, 6, 2501, 2501\].*672x672 fits/);
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
