/**
 * Segmentation on webgpu in Node (Dawn on Mesa's GL ES): the Segmenter and the `segment` command
 * end to end on the slide fixture (labels equal to the official prediction wherever the recorded
 * top1 - top2 gap decides them, logits within the fixtures' tolerance), no tensor or GPU buffer
 * left behind, and the GPU limit check on segmentation passes. Layer-by-layer parity on webgpu:
 * parity_webgpu.test.ts.
 */
import * as os from 'os';
import * as path from 'path';
import { promises as fs } from 'fs';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { initBackend } from '../../src/backends/node';
import { backendMemory } from '../../src/backends/memory';
import { entryToFloat32 } from '../../src/io/safetensors';
import { compareArrays, PARITY_TOLERANCE } from '../../src/verify/compare';
import { SEG_VARIANTS } from '../../src/config/semseg';
import { bindSegWeights, disposeSegWeights, inference } from '../../src/semseg/encoder_decoder';
import { checkSegGpuLimits, segLimitProblems } from '../../src/semseg/limits';
import { Segmenter } from '../../src/node/segmenter';
import { loadSegWeightsFile } from '../../src/node/seg_weights';
import { decodeNpy } from '../../src/io/npy';
import { runCli } from '../cli/run_cli';
import { slideCase } from './parity_suite';

const { weights: WEIGHTS, config: CONFIG, image: IMAGE, ref, labels: refLabels, logits: refLogits } = slideCase();
const refGap = entryToFloat32(ref.tensors.get('pred_sem_seg_gap')!);
const refMax = refLogits.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
/** A label is decided when its recorded gap exceeds twice the allowed logit error (as parity does). */
const GAP_LIMIT = 2 * PARITY_TOLERANCE.maxAbsFactor * Math.max(1, refMax);

/** Labels differing from the official ones where the recorded gap decides them. */
function decidedDifferences(labels: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < refLabels.length; i++) if (labels[i] !== refLabels[i] && refGap[i] > GAP_LIMIT) n++;
  return n;
}

/** webgpu frees a buffer once the commands that used it are submitted: a read submits them. */
async function settled(): Promise<ReturnType<typeof backendMemory>> {
  const t = tf.tidy(() => tf.add(tf.ones([1]), 1));
  await t.data();
  t.dispose();
  return backendMemory();
}

let dir: string;
beforeAll(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'segment-webgpu-')); });
afterAll(async () => { await fs.rm(dir, { recursive: true, force: true }); });

describe('Segmenter on webgpu (Node)', () => {
  test('segments the fixture image as the official pipeline does, leaving no tensor or GPU buffer behind', async () => {
    const seg = await Segmenter.load(WEIGHTS, { backend: 'webgpu', config: CONFIG });
    try {
      expect(tf.getBackend()).toBe('webgpu');
      await seg.segment(IMAGE); // weights reach GPU buffers on first use
      const before = await settled();
      const out = await seg.segment(IMAGE, { logits: true });
      expect(await settled()).toEqual(before);
      expect([out.width, out.height]).toEqual([266, 150]);
      const { relL2, maxAbs } = compareArrays(out.logits!, refLogits);
      expect(relL2).toBeLessThanOrEqual(PARITY_TOLERANCE.relL2);
      expect(maxAbs).toBeLessThanOrEqual(PARITY_TOLERANCE.maxAbsFactor * Math.max(1, refMax));
      expect(out.labels.length).toBe(refLabels.length);
      expect(decidedDifferences(out.labels)).toBe(0);
    } finally {
      seg.dispose();
    }
  });

  test('depth-anything segment --backend webgpu: the labels PNG is the official prediction', async () => {
    const outdir = path.join(dir, 'out');
    const { code, err } = await runCli('segment', IMAGE, '--weights', WEIGHTS, '--config', CONFIG, '--outdir', outdir, '--format', 'labels,npy', '--backend', 'webgpu');
    expect(err).toContain('backend: webgpu');
    expect(err).toContain('done: 1 written, 0 failed');
    expect(code).toBe(0);
    const data = await sharp(path.join(outdir, 'image_labels.png')).extractChannel(0).raw().toBuffer();
    expect(data.length).toBe(refLabels.length);
    expect(decidedDifferences(data)).toBe(0);
    const npy = decodeNpy(await fs.readFile(path.join(outdir, 'image_logits.npy')));
    expect(npy.shape).toEqual([7, 150, 266]);
    const { relL2, maxAbs } = compareArrays(npy.data, refLogits);
    expect(relL2).toBeLessThanOrEqual(PARITY_TOLERANCE.relL2);
    expect(maxAbs).toBeLessThanOrEqual(PARITY_TOLERANCE.maxAbsFactor * Math.max(1, refMax));
  });
});

describe('GPU limits for segmentation passes', () => {
  const ade = SEG_VARIANTS['seg-ade20k'];
  const dawn = { backend: 'webgpu' as const, maxBinding: 128 * 2 ** 20, maxBuffer: 2 ** 30 };
  const swiftshaderWebgpu = { backend: 'webgpu' as const, maxBinding: 2 ** 30, maxBuffer: 2 ** 30 };

  test('the released ViT-L model at its 896 crops: one line naming the tensor, the limit and a crop that fits', () => {
    // Dawn GL ES's 128 MiB: the stitched ADE20K logits of an 896x1792 image (150 classes) alone
    // exceed the binding. (The backbone's attention is split by head and query rows to fit: its 16
    // heads' scores [1, 16, 4097, 4097] would be 1 GiB.)
    expect(() => checkSegGpuLimits(ade, ade.test, 896, 1792, 1, dawn)).toThrow('slide crop 896x896 on the 896x1792 input exceeds a webgpu limit: slide stitched logits [1, 896, 1792, 150] needs 918.8 MiB, past the maxStorageBufferBindingSize of this adapter (128.0 MiB); no slide crop fits: the stitched logits [1, 896, 1792, 150] alone exceed it, so use a smaller image (or use --backend wasm)');
    // Chromium's SwiftShader WebGPU (1 GiB per binding): the released 896 crops fit.
    expect(() => checkSegGpuLimits(ade, ade.test, 896, 1792, 1, swiftshaderWebgpu)).not.toThrow();
    expect(segLimitProblems(ade, { mode: 'slide', crop: [896, 896], stride: [426, 426] }, 896, 1792, 1, swiftshaderWebgpu)).toEqual([]);
    // ...and a larger image does not: its stitched logits pass 1 GiB.
    expect(() => checkSegGpuLimits(ade, ade.test, 1036, 1792, 1, swiftshaderWebgpu)).toThrow(/slide stitched logits \[1, 1036, 1792, 150\] needs 1062\.3 MiB/);
    expect(() => checkSegGpuLimits(ade, ade.test, 896, 1792, 1, null)).not.toThrow(); // cpu/wasm: no limits
  });

  test('a pass past the active adapter\'s limit is refused before it runs (Dawn would drop it and read zeros)', async () => {
    await initBackend('webgpu');
    const loaded = await loadSegWeightsFile(WEIGHTS, { config: CONFIG });
    const cfg = loaded.config;
    const w = bindSegWeights(loaded.stateDict, cfg, WEIGHTS);
    try {
      const whole = { mode: 'whole' as const };
      const limits = { backend: 'webgpu' as const, ...(() => {
        const l = (tf.backend() as unknown as { device: { limits: Record<string, number> } }).device.limits;
        return { maxBinding: l.maxStorageBufferBindingSize, maxBuffer: l.maxBufferSize };
      })() };
      // The smallest square input (a multiple of 14) past a limit of this adapter.
      let s = 14;
      while (segLimitProblems(cfg, whole, s, s, 1, limits).length === 0) s += 14 * 16;
      const before = tf.memory().numTensors;
      const x = tf.zeros([1, s, s, 3]) as tf.Tensor4D;
      expect(() => inference(x, w, cfg, whole)).toThrow(new RegExp(`^input ${s}x${s} exceeds a webgpu limit: .* past the maxStorageBufferBindingSize of this adapter`));
      x.dispose();
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      disposeSegWeights(w);
    }
  });
});
