/**
 * DepthAnything3.inference end to end, as a user calls it: the fixture's PNG files in, the
 * official `Prediction` fields out (depth, conf, cameras, sky, processed images) within the
 * fixtures' tolerance (uint8 fields exactly), the metric rule, the exported scene, no tensor left
 * behind, and one clear line for each kind of bad call.
 */
import { readFileSync } from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { entryToFloat32, parseSafetensors } from '../../src/io/safetensors';
import { DepthAnything3, metricDepth } from '../../src/node/depth_anything3';
import { da3Scene } from '../../src/pipeline/da3/scene';
import { FIXTURES, expectArrayParity } from '../helpers';

const dir = (name: string) => path.join(FIXTURES, 'da3', name);

function fixture(name: string) {
  const cfg = JSON.parse(readFileSync(path.join(dir(name), 'config.json'), 'utf8')) as { inference: { process_res: number; process_res_method: 'upper_bound_resize'; images: string[] } };
  const acts = parseSafetensors(readFileSync(path.join(dir(name), 'activations.safetensors')), `${name}/activations.safetensors`);
  const f32 = (k: string) => entryToFloat32(acts.tensors.get(k)!);
  const u8 = (k: string) => Array.from(acts.tensors.get(k)!.bytes);
  return { cfg, f32, u8, images: cfg.inference.images.map((f) => path.join(dir(name), f)), opts: { processRes: cfg.inference.process_res, processResMethod: cfg.inference.process_res_method } };
}

describe('DepthAnything3.inference (wasm)', () => {
  test('any-view: depth, confidence and both cameras from the two PNG files; the exported scene', async () => {
    const f = fixture('da3-tiny-anyview');
    const model = await DepthAnything3.load(path.join(dir('da3-tiny-anyview'), 'weights.safetensors'), { backend: 'wasm' });
    try {
      const before = tf.memory().numTensors;
      const p = await model.inference(f.images, f.opts);
      expect(tf.memory().numTensors).toBe(before);
      expect([p.views, p.height, p.width, p.metric]).toEqual([2, 70, 84, false]);
      expectArrayParity(p.depth, f.f32('prediction.depth'), 'depth');
      expectArrayParity(p.conf!, f.f32('prediction.conf'), 'conf');
      expectArrayParity(p.extrinsics!, f.f32('prediction.extrinsics'), 'extrinsics');
      expectArrayParity(p.intrinsics!, f.f32('prediction.intrinsics'), 'intrinsics');
      expect(Array.from(p.processedImages)).toEqual(f.u8('prediction.processed_images'));
      expect(p.sky).toBeNull();
      // The scene from our prediction: the same points as the official exporter's, in its order.
      const exp = parseSafetensors(readFileSync(path.join(dir('da3-tiny-anyview'), 'export.safetensors')), 'export.safetensors');
      const scene = da3Scene({ ...p, conf: p.conf, extrinsics: p.extrinsics!, intrinsics: p.intrinsics! });
      const refPoints = entryToFloat32(exp.tensors.get('glb.points')!);
      expect(scene.points.length).toBe(refPoints.length);
      expectArrayParity(Float32Array.from(scene.points), refPoints, 'glb.points');
      expect(Array.from(scene.colors)).toEqual(Array.from(exp.tensors.get('glb.colors')!.bytes));
    } finally {
      model.dispose();
    }
  });

  test('mono: depth with the sky filled, the sky mask, and metres by the metric rule', async () => {
    const f = fixture('da3-tiny-mono');
    const model = await DepthAnything3.load(path.join(dir('da3-tiny-mono'), 'weights.safetensors'), { backend: 'wasm' });
    try {
      const before = tf.memory().numTensors;
      const p = await model.inference(f.images, f.opts);
      expect(tf.memory().numTensors).toBe(before);
      expectArrayParity(p.depth, f.f32('prediction.depth'), 'depth');
      expect(Array.from(p.sky!)).toEqual(f.u8('prediction.sky'));
      expect(Array.from(p.processedImages)).toEqual(f.u8('prediction.processed_images'));
      expect([p.conf, p.extrinsics, p.intrinsics]).toEqual([null, null, null]);
      // metric.depth is apply_metric_scaling(model.depth, K): the depth before the sky fill.
      const K = f.f32('metric.intrinsics');
      const net = { depth: f.f32('model.depth'), views: 1, height: 70, width: 112 };
      expectArrayParity(metricDepth(net, K), f.f32('metric.depth'), 'metric depth');
      // Bad calls: one line each, nothing left behind.
      await expect(model.inference([])).rejects.toThrow('Depth Anything 3 needs at least one image; got none');
      await expect(model.inference([f.images[0], f.images[0]])).rejects.toThrow(/monocular Depth Anything 3 model .*one image at a time; got 2/);
      await expect(model.inference([f.images[0]], { extrinsics: [[[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]], intrinsics: [[[100, 0, 75], [0, 100, 49], [0, 0, 1]]] }))
        .rejects.toThrow(/known cameras need an any-view model/);
      await expect(model.inference([path.join(dir('da3-tiny-mono'), 'config.json')])).rejects.toThrow(/config\.json/);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      model.dispose();
    }
    await expect(model.inference([f.images[0]])).rejects.toThrow('this Depth Anything 3 model was disposed');
  });
});
