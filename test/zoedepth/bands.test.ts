/**
 * The head's full-resolution stage runs a band of rows at a time (src/zoedepth/zoedepth_v1.ts):
 * any band height gives the same depth as one band, equal to the official code's, the banded
 * taps join into the recorded tensors, nothing is left behind, and at the released size the
 * bands keep the head's memory below what one band takes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BackendName } from '../../src/backends/node';
import { bindWeights, disposeWeights, DepthAnythingWeights } from '../../src/depth/depth_anything';
import { CoreOutput, depthAnythingCore } from '../../src/depth/dpt_dinov2';
import { HEAD_BAND_PIXELS, ZoeDepthHeadWeights, loadZoeDepthHead, zoeDepthHead, zoeDepthHeadShapes } from '../../src/zoedepth/zoedepth_v1';
import { VARIANTS } from '../../src/config/depth';
import { randomStateDict } from '../../src/verify/bench';
import { StateDictReader } from '../../src/weights/state_dict';
import type { DptHooks } from '../../src/dpt/dpt_head';
import { activation, Case, expectParity, loadCase, useBackend } from '../helpers';

describe.each(['wasm', 'cpu'] as BackendName[])('ZoeDepth head in bands (%s)', (backend) => {
  let c: Case;
  let w: DepthAnythingWeights;
  let core: CoreOutput;
  beforeAll(async () => {
    await useBackend(backend);
    c = await loadCase('v1-metric-indoor-tiny');
    w = bindWeights(c.stateDict, c.config, c.name);
    core = tf.tidy(() => depthAnythingCore(activation(c, 'core.prep') as tf.Tensor4D, w.pretrained, w.depth_head, c.config) as unknown as tf.TensorContainer) as unknown as CoreOutput;
  });
  afterAll(() => {
    tf.dispose(core as unknown as tf.TensorContainer);
    disposeWeights(w);
  });

  /** The head on the recorded prepared input, with `bandPixels`; the taps it makes, read out. */
  const head = (bandPixels: number) => {
    const taps = new Map<string, Float32Array>();
    const before = tf.memory().numTensors;
    const depth = zoeDepthHead(core.relDepth, core.hooks, w.zoe!, c.config.zoe!, (k, t) => { taps.set(k, t.dataSync() as Float32Array); }, bandPixels);
    const data = depth.dataSync() as Float32Array;
    const shape = depth.shape;
    depth.dispose();
    expect(tf.memory().numTensors).toBe(before);
    return { data, shape, taps };
  };

  // 1-row bands (84 of them) on wasm only: the cpu backend's ~30 s per head call in jest.
  const bandRows = backend === 'wasm' ? [5, 1] : [5];
  test(`one band and ${bandRows.join('-, ')}-row bands (5: the last shorter) give the same depth, equal to the official`, () => {
    const whole = head(Infinity);
    const [, h, wd] = whole.shape;
    expect([h, wd]).toEqual([84, 112]);
    for (const rows of bandRows) {
      const banded = head(rows * wd);
      // Every pixel's arithmetic is the same whatever the band: equal, not merely close.
      expect(banded.data).toEqual(whole.data);
      for (const key of ['conditional_log_binomial.mlp.0', 'conditional_log_binomial', 'metric_depth']) {
        expect(banded.taps.get(key)).toEqual(whole.taps.get(key));
      }
    }
    tf.tidy(() => {
      expectParity(tf.tensor(whole.data, whole.shape), activation(c, 'metric_depth'), 'metric_depth');
      const probs = whole.taps.get('conditional_log_binomial')!;
      expectParity(tf.tensor(probs, [1, h, wd, 64]), activation(c, 'conditional_log_binomial'), 'conditional_log_binomial');
    });
  });
});

test('at the released 392x518, ViT-L widths: the head holds < 0.5 GiB at its peak in bands, > 1 GiB in one band (wasm)', async () => {
  await useBackend('wasm');
  const cfg = VARIANTS['v1-metric-indoor'];
  const z = cfg.zoe;
  const head = tf.tidy(() => loadZoeDepthHead(new StateDictReader(randomStateDict(cfg, 1, zoeDepthHeadShapes(cfg, z)), 'random'), cfg, z) as unknown as tf.TensorContainer) as unknown as ZoeDepthHeadWeights;
  // The core's outputs at 392x518 (patch grid 28x37): l4_rn at half the grid, r4..r1 at 1, 2, 4, 8 times it.
  const [H, W, ph, pw, F] = [392, 518, 28, 37, cfg.features];
  const map = (h: number, w: number, c: number) => tf.randomUniform([1, h, w, c], 0, 1, 'float32', 7) as tf.Tensor4D;
  const hooks = {
    l4_rn: map(ph / 2, Math.ceil(pw / 2), F), r4: map(ph, pw, F), r3: map(2 * ph, 2 * pw, F), r2: map(4 * ph, 4 * pw, F), r1: map(8 * ph, 8 * pw, F),
    out_conv: map(H, W, 32),
  } as unknown as DptHooks;
  const rel = tf.randomUniform([1, H, W], 0, 1, 'float32', 8) as tf.Tensor3D;
  const peakAbove = async (bandPixels: number): Promise<number> => {
    const held = tf.memory().numBytes;
    let out: tf.Tensor | undefined;
    const p = await tf.profile(() => { out = zoeDepthHead(rel, hooks, head, z, undefined, bandPixels); return out; });
    expect(out!.shape).toEqual([1, H, W, 1]);
    out!.dispose();
    return p.peakBytes - held;
  };
  try {
    const banded = await peakAbove(HEAD_BAND_PIXELS);
    const whole = await peakAbove(Infinity);
    expect(banded).toBeLessThan(0.5 * 2 ** 30);
    expect(whole).toBeGreaterThan(2 ** 30);
  } finally {
    tf.dispose([head as unknown as tf.TensorContainer, hooks as unknown as tf.TensorContainer, rel]);
  }
});
