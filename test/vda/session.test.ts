/**
 * VdaSession on wasm with the tiny fixture weights: no leaks, a single photo (frame 0 of a stream,
 * the official T = 1), clips shorter than a window, mismatched frame sizes, empty clips, strict
 * binding, and VDA weights refused by the image path with one clear line.
 */
import { readFileSync } from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { vdaConfigFromJson } from '../../src/config/vda';
import { entryToFloat32, parseSafetensors } from '../../src/io/safetensors';
import { decodeImage } from '../../src/node/image';
import { loadWeightsFile } from '../../src/node/weights_file';
import { RgbImage } from '../../src/pipeline/rgb';
import { VdaSession } from '../../src/pipeline/vda_session';
import { feedForward } from '../../src/vda/motion_module/attention';
import { feedForwardInChunks } from '../../src/vda/motion_module/motion_module';
import { compareArrays } from '../../src/verify/compare';
import { StateDict } from '../../src/weights/state_dict';
import { FIXTURES, useBackend } from '../helpers';

const dir = (c: string) => path.join(FIXTURES, 'vda', c);
const cfg = vdaConfigFromJson(JSON.parse(readFileSync(path.join(dir('vda-tiny'), 'config.json'), 'utf8')), 'vda-tiny');
let sd: StateDict;
let frames: RgbImage[];

beforeAll(async () => {
  await useBackend('wasm');
  sd = (await loadWeightsFile(path.join(dir('vda-tiny'), 'weights.safetensors'))).stateDict;
  frames = [];
  for (let i = 0; i < 4; i++) frames.push(await decodeImage(path.join(dir('vda-tiny-stream'), 'frames', `${String(i).padStart(3, '0')}.png`)));
});

const solid = (w: number, h: number, v: number): RgbImage => ({ data: new Uint8Array(w * h * 3).fill(v), width: w, height: h });

describe('VdaSession', () => {
  test('the temporal feed-forward in row chunks (long windows at 518) computes what one piece computes, no leaks', () => {
    const u = (shape: number[], seed: number) => tf.randomUniform(shape, -1, 1, 'float32', seed);
    const w = { key: 'ff', proj: { w: u([8, 32], 1) as tf.Tensor2D, b: u([32], 2) as tf.Tensor1D }, out: { w: u([16, 8], 3) as tf.Tensor2D, b: u([8], 4) as tf.Tensor1D } };
    const x = u([1, 10, 8], 5) as tf.Tensor3D;
    const whole = tf.tidy(() => feedForward(x, w));
    const before = tf.memory().numTensors;
    const chunked = feedForwardInChunks(x, w, 3 * 32); // rows of 3: 3 + 3 + 3 + 1, each piece in its own scope
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(chunked.shape).toEqual([1, 10, 8]);
    expect(compareArrays(chunked.dataSync() as Float32Array, whole.dataSync() as Float32Array).maxAbs).toBeLessThan(1e-6);
    tf.dispose([whole, chunked, x, w.proj.w, w.proj.b, w.out.w, w.out.b]);
  });

  test('a single photo is frame 0 of a stream (T = 1), as the official streaming runs it; no tensor left behind', async () => {
    const before = tf.memory().numTensors;
    const s = new VdaSession(sd, cfg, 'vda-tiny');
    const bound = tf.memory().numTensors;
    const d = await s.streamFrame(frames[0], { inputSize: 42 });
    const ref = parseSafetensors(readFileSync(path.join(dir('vda-tiny-stream'), 'stream.safetensors')), 'stream');
    expect([d.height, d.width]).toEqual([48, 64]);
    expect(compareArrays(d.data, entryToFloat32(ref.tensors.get('frame.0.depth')!)).relL2).toBeLessThan(2e-5);
    await s.streamFrame(frames[1], { inputSize: 42 });
    expect(tf.memory().numTensors).toBeGreaterThan(bound); // the cache: frame 0's and frame 1's states
    s.resetStream();
    expect(tf.memory().numTensors).toBe(bound);
    s.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  test('a clip shorter than a window runs as the official code runs it (the last frame repeated) and returns every frame', async () => {
    const before = tf.memory().numTensors;
    const s = new VdaSession(sd, cfg, 'vda-tiny');
    const slots: number[][] = [];
    const p = s.videoPipeline({ inputSize: 42, record: { window: (_k, ids) => slots.push(ids) } });
    const out = [];
    for (const f of frames) out.push(...(await p.push(f)));
    expect(out).toHaveLength(0); // nothing is final before the window runs
    out.push(...(await p.finish()));
    expect(out.map((d) => [d.width, d.height])).toEqual(frames.map(() => [64, 48]));
    expect(slots).toEqual([[0, 1, 2, 3, ...Array(28).fill(3)]]);
    s.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  test('mismatched frame sizes: one line naming the frame and both sizes, the pipeline and the stream unchanged', async () => {
    const s = new VdaSession(sd, cfg, 'vda-tiny');
    const p = s.videoPipeline({ inputSize: 42 });
    await p.push(solid(64, 48, 100));
    await expect(p.push(solid(60, 48, 100))).rejects.toThrow('frame 1: is 60x48, but the clip\'s first frame is 64x48');
    await s.streamFrame(solid(64, 48, 100), { inputSize: 42 });
    const held = tf.memory().numTensors;
    await expect(s.streamFrame(solid(64, 40, 100), { inputSize: 42 })).rejects.toThrow('stream frame 1: is 64x40, but the stream\'s first frame was 64x48');
    expect(tf.memory().numTensors).toBe(held);
    s.dispose();
  });

  test('an empty clip and a finished pipeline say so', async () => {
    const s = new VdaSession(sd, cfg, 'vda-tiny');
    await expect(s.videoPipeline().finish()).rejects.toThrow('no frames (an empty clip)');
    const p = s.videoPipeline({ inputSize: 42 });
    await p.push(solid(64, 48, 10));
    await p.finish();
    await expect(p.push(solid(64, 48, 10))).rejects.toThrow('push after finish');
    s.dispose();
  });

  test('strict binding: a missing temporal tensor is named, and nothing is left behind', () => {
    const before = tf.memory().numTensors;
    const broken: StateDict = new Map(sd);
    broken.delete('head.motion_modules.2.temporal_transformer.proj_out.weight');
    expect(() => new VdaSession(broken, cfg, 'broken.pth')).toThrow('broken.pth: weights do not match the model configuration: missing key head.motion_modules.2.temporal_transformer.proj_out.weight (expected [32, 32])');
    expect(tf.memory().numTensors).toBe(before);
  });

  test('VDA weights given to the image model: one line saying what they are', async () => {
    const loaded = await loadWeightsFile(path.join(dir('vda-tiny'), 'weights.safetensors'));
    expect(loaded.config).toBeUndefined();
    expect(loaded.configProblem).toMatch(/a Video Depth Anything checkpoint \(head\.motion_modules\.\*\): it runs on videos or frame sequences/);
  });
});
