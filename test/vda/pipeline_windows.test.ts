/**
 * The incremental offline pipeline against a direct transcription of the official
 * `infer_video_depth` loop (all frames at once), with a stand-in model whose maps depend on the
 * frames in each slot: same slots, same depth frames, bit for bit, for clip lengths around every
 * window boundary; metric models skip the fit; memory stays at about two windows.
 */
import { VDA_PIPELINE } from '../../src/config/vda';
import { RgbImage } from '../../src/pipeline/rgb';
import { computeScaleAndShift, interpolateFrames, scaleShiftClamp } from '../../src/pipeline/vda_align';
import { VideoDepthPipeline, WindowRunner, vdaPreprocess } from '../../src/pipeline/vda_video';
import { resizeBilinearAlignCorners } from '../../src/pipeline/postprocess';

const W = 20, H = 14; // frames; the network input is 28x42 at input size 28
const frame = (i: number): RgbImage => ({ data: new Uint8Array(W * H * 3).map((_, k) => (i * 37 + k * 11) % 251), width: W, height: H });

/** A stand-in model: each map a function of its input's pixels and its slot (time matters, as in VDA). */
const fakeRun: WindowRunner = async (inputs, h, w) => inputs.map((x, slot) => {
  const out = new Float32Array(h * w);
  for (let p = 0; p < h * w; p++) out[p] = Math.fround(Math.abs(x[p * 3] * 0.5 + x[p * 3 + 1] * 0.25 - 0.1 * Math.sin(slot + p)) + (slot % 5) * 0.01 - 0.02);
  return out;
});

/** video_depth.py's infer_video_depth, transcribed: returns the slots of each window and the depth. */
async function official(n: number, metric: boolean, run: WindowRunner, prep: (i: number) => { data: Float32Array; h: number; w: number }) {
  const { inferLen: L, overlap: O, keyframes: K, interpLen: I } = VDA_PIPELINE;
  const step = L - O;
  const append = ((step - (n % step)) % step) + (L - step);
  const list = [...Array(n).keys(), ...Array(append).fill(n - 1)];
  const depthList: Float32Array[] = [];
  const windows: number[][] = [];
  let pre: number[] | undefined;
  for (let id = 0; id < n; id += step) {
    const cur = list.slice(id, id + L);
    if (pre) for (let i = 0; i < O; i++) cur[i] = pre[K[i]];
    windows.push(cur);
    const { h, w } = prep(0);
    const maps = await run(cur.map((f) => prep(f).data), h, w);
    depthList.push(...maps.map((m) => resizeBilinearAlignCorners(m, h, w, H, W)));
    pre = cur;
  }
  const aligned: Float32Array[] = [];
  let ref: Float32Array[] = [];
  const kf = K.slice(0, O - I);
  for (let id = 0; id < depthList.length; id += L) {
    if (!aligned.length) {
      aligned.push(...depthList.slice(0, L));
      ref = kf.map((k) => depthList[id + k]);
      continue;
    }
    const cat = (m: Float32Array[]) => { const o = new Float32Array(m.length * H * W); m.forEach((x, i) => o.set(x, i * H * W)); return o; };
    const { scale, shift } = metric ? { scale: 1, shift: 0 } : computeScaleAndShift(cat(kf.map((_, i) => depthList[id + i])), cat(ref));
    const post = depthList.slice(id + O - I, id + O).map((d) => scaleShiftClamp(d, scale, shift));
    aligned.splice(aligned.length - I, I, ...interpolateFrames(aligned.slice(-I), post));
    for (let i = O; i < L; i++) aligned.push(scaleShiftClamp(depthList[id + i], scale, shift));
    ref = [ref[0], ...kf.slice(1).map((k) => scaleShiftClamp(depthList[id + k], scale, shift))];
  }
  return { windows, depth: aligned.slice(0, n) };
}

describe('VideoDepthPipeline (incremental) = infer_video_depth (all at once)', () => {
  const cache = new Map<number, { data: Float32Array; h: number; w: number }>();
  const prep = (i: number) => {
    if (!cache.has(i)) { const p = vdaPreprocess(frame(i), 28); cache.set(i, { data: p.data, h: p.height, w: p.width }); }
    return cache.get(i)!;
  };

  test.each([1, 31, 32, 33, 50, 54, 55, 77])('%i frames', async (n) => {
    for (const metric of [false, true]) {
      const ref = await official(n, metric, fakeRun, prep);
      const slots: number[][] = [];
      let held = 0;
      const p = new VideoDepthPipeline({ run: fakeRun, metric, inputSize: 28, record: { window: (_k, ids) => slots.push(ids) } });
      const out = [];
      for (let i = 0; i < n; i++) {
        const got = await p.push(frame(i));
        out.push(...got);
        // Frames handed out never lag more than a window and a half behind the input.
        held = Math.max(held, i + 1 - out.length);
      }
      out.push(...(await p.finish()));
      expect(slots).toEqual(ref.windows);
      expect(out).toHaveLength(n);
      out.forEach((d, i) => expect(Array.from(d.data)).toEqual(Array.from(ref.depth[i])));
      expect(held).toBeLessThanOrEqual(31);
    }
  });
});
