/**
 * Video end to end on short clips made from the fixture photo, with the tiny V2 fixture weights on
 * wasm: each frame's depth is exactly `predict` on the frame as ffmpeg decodes it; outputs have the
 * source's frame count, size, rate and orientation (ffprobe); the flicker measure orders the
 * normalisation modes; bad inputs fail in one line with nothing left under the output names.
 */
import { execFileSync } from 'child_process';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { DepthAnything } from '../../src/node/depth_anything';
import { RgbImage, decodeImage } from '../../src/node/image';
import { decodeNpy } from '../../src/io/npy';
import { NORMALIZE_MODES, NormalizeMode } from '../../src/node/video/normalize';
import { predictVideoFile } from '../../src/node/video/run';
import { runCli } from '../cli/run_cli';
import { expandInputs } from '../../src/cli/predict';
import { isVideoInput } from '../../src/node/run_job';
import { caseDir } from '../helpers';
import { Clip, ClipKind, PHOTO, makeClip } from './clips';

const TINY = ['--weights', path.join(caseDir('v2-tiny'), 'weights.safetensors'), '--config', path.join(caseDir('v2-tiny'), 'config.json')];
const SIZE = 56;
const CLI = [...TINY, '--input-size', String(SIZE), '--backend', 'wasm', '--threads', '1'];

let dir: string;
let model: DepthAnything;
const clips = {} as Record<ClipKind, Clip>;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'da-video-'));
  for (const kind of ['pan', 'static', 'rotated', 'odd', 'gif'] as const) clips[kind] = makeClip(kind, dir);
  model = await DepthAnything.load(TINY[1], { config: TINY[3], backend: 'wasm', threads: 1 });
});
afterAll(async () => {
  model?.dispose();
  await fs.rm(dir, { recursive: true, force: true });
});

/** Frame k as ffmpeg decodes it on its own (to a lossless PNG), read back as RGB. */
async function ffmpegFrame(file: string, k: number): Promise<RgbImage> {
  const png = path.join(dir, `frame-${path.basename(file)}-${k}.png`);
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', file, '-vf', `select=eq(n\\,${k})`, '-fps_mode', 'passthrough', '-frames:v', '1', png]);
  return decodeImage(png);
}

function ffprobe(file: string): { streams: Array<Record<string, string | number>> } {
  return JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-show_streams', '-of', 'json', file], { encoding: 'utf8' }));
}

const outDir = async (name: string) => { const d = path.join(dir, name); await fs.rm(d, { recursive: true, force: true }); return d; };

describe('predictVideo (library)', () => {
  test('frame k is exactly predict on decoded frame k; index and time; no tensors left', async () => {
    const pan = clips.pan;
    const before = tf.memory().numTensors;
    const keep = new Map<number, { depth: Float32Array; image: RgbImage; time: number }>();
    let n = 0;
    for await (const f of model.predictVideo(pan.file, { inputSize: SIZE })) {
      expect(f.index).toBe(n++);
      expect([f.depth.width, f.depth.height]).toEqual([96, 64]);
      if ([0, 7, 23].includes(f.index)) keep.set(f.index, { depth: f.depth.data, image: f.image, time: f.time });
    }
    expect(n).toBe(24);
    expect(tf.memory().numTensors).toBe(before);
    for (const [k, got] of keep) {
      const frame = await ffmpegFrame(pan.file, k);
      expect(Buffer.from(got.image.data).equals(Buffer.from(frame.data))).toBe(true);
      const ref = await model.predict(frame, { inputSize: SIZE });
      expect(Buffer.from(got.depth.buffer).equals(Buffer.from(ref.data.buffer))).toBe(true);
      expect(got.time).toBeCloseTo(k / 12, 6);
    }
  });

  test('rotation metadata: frames come out as displayed (48x64), each exactly predict on the decoded frame', async () => {
    const info = ffprobe(clips.rotated.file).streams[0];
    expect([info.width, info.height]).toEqual([64, 48]); // stored landscape, displayed portrait
    let n = 0;
    for await (const f of model.predictVideo(clips.rotated.file, { inputSize: SIZE })) {
      expect([f.image.width, f.image.height, f.depth.width, f.depth.height]).toEqual([48, 64, 48, 64]);
      if (f.index === 3) {
        const frame = await ffmpegFrame(clips.rotated.file, 3);
        expect([frame.width, frame.height]).toEqual([48, 64]);
        expect(Buffer.from(f.image.data).equals(Buffer.from(frame.data))).toBe(true);
        expect(Buffer.from(f.depth.data.buffer).equals(Buffer.from((await model.predict(frame, { inputSize: SIZE })).data.buffer))).toBe(true);
      }
      n++;
    }
    expect(n).toBe(8);
  });

  test('selection: start/end, frame step and max frames pick the right frames; breaking early stops ffmpeg', async () => {
    const pan = clips.pan.file;
    const timed = [];
    for await (const f of model.predictVideo(pan, { inputSize: SIZE, start: 0.5, end: 1.5 })) timed.push(f);
    expect(timed.length).toBe(12);
    expect(timed[0].time).toBeCloseTo(0.5, 6);
    expect(Buffer.from(timed[0].image.data).equals(Buffer.from((await ffmpegFrame(pan, 6)).data))).toBe(true);

    const stepped = [];
    for await (const f of model.predictVideo(pan, { inputSize: SIZE, frameStep: 5, maxFrames: 3 })) stepped.push(f);
    expect(stepped.map((f) => f.index)).toEqual([0, 1, 2]);
    expect(stepped.map((f) => f.time * 12)).toEqual([0, 5, 10].map((v) => expect.closeTo(v, 5)));
    expect(Buffer.from(stepped[2].image.data).equals(Buffer.from((await ffmpegFrame(pan, 10)).data))).toBe(true);

    for await (const f of model.predictVideo(pan, { inputSize: SIZE })) { expect(f.index).toBe(0); break; }
    await expect((async () => { for await (const f of model.predictVideo(pan, { frameStep: 0 })) void f; })()).rejects.toThrow(/frame step must be an integer >= 1/);
  });
});

describe('predict CLI on videos', () => {
  test('side by side with every output: MP4 size/frames/rate/audio (ffprobe), 16-bit PNG sequence, .npy stack of the raw depth', async () => {
    const out = await outDir('out-pan');
    const { code, err } = await runCli('predict', clips.pan.file, ...CLI, '--outdir', out, '--format', 'color,png16,npy', '--side-by-side');
    expect(err).toMatch(/\[1\/1\] .*pan\.mp4 -> .*pan_depth\.mp4, .*pan_depth16\/, .*pan_depth\.npy \(24 frames 96x64, [\d.]+ fps, flicker [\d.]+ levels \(aligned\), [\d.]+ s\)/);
    expect(code).toBe(0);
    expect((await fs.readdir(out)).sort()).toEqual(['pan_depth.mp4', 'pan_depth.npy', 'pan_depth16']);

    const streams = ffprobe(path.join(out, 'pan_depth.mp4')).streams;
    const v = streams.find((s) => s.codec_type === 'video')!;
    expect([v.width, v.height, v.r_frame_rate, v.nb_read_frames, v.codec_name, v.pix_fmt]).toEqual([96 + 50 + 96, 64, '12/1', '24', 'h264', 'yuv420p']);
    expect(streams.find((s) => s.codec_type === 'audio')?.codec_name).toBe('aac');
    // The white band between frame and depth survives the encoding.
    const first = await sharp(execFileSync('ffmpeg', ['-v', 'error', '-i', path.join(out, 'pan_depth.mp4'), '-frames:v', '1', '-f', 'image2pipe', '-c:v', 'png', '-'])).raw().toBuffer({ resolveWithObject: true });
    let band = 0;
    for (let y = 0; y < 64; y++) for (let x = 100; x < 142; x++) band += first.data[(y * first.info.width + x) * 3];
    expect(band / (64 * 42)).toBeGreaterThan(245);

    const npy = decodeNpy(await fs.readFile(path.join(out, 'pan_depth.npy')));
    expect(npy.shape).toEqual([24, 64, 96]);
    const ref = await model.predict(await ffmpegFrame(clips.pan.file, 7), { inputSize: SIZE });
    expect(Buffer.from(npy.data.subarray(7 * 6144, 8 * 6144).buffer.slice(7 * 6144 * 4, 8 * 6144 * 4)).equals(Buffer.from(ref.data.buffer))).toBe(true);

    const pngs = (await fs.readdir(path.join(out, 'pan_depth16'))).sort();
    expect(pngs).toEqual(Array.from({ length: 24 }, (_, i) => `${String(i).padStart(6, '0')}.png`));
    const meta = await sharp(path.join(out, 'pan_depth16', '000005.png')).metadata();
    expect([meta.width, meta.height, meta.depth, meta.channels]).toEqual([96, 64, 'ushort', 1]);
  });

  test('folders are searched for videos too', async () => {
    const { inputs } = await expandInputs([dir]);
    expect(inputs.map((i) => path.basename(i.file))).toEqual(expect.arrayContaining(['pan.mp4', 'odd.mp4', 'gif.gif']));
    expect(await isVideoInput(clips.gif.file)).toBe(true);
    expect(await isVideoInput(clips.pan.file)).toBe(true);
    const still = path.join(dir, 'still.gif'); // one frame: an image
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', PHOTO, '-vf', 'scale=20:-2', '-frames:v', '1', still]);
    expect(await isVideoInput(still)).toBe(false);
    await fs.rm(still);
  });

  test('odd size with a frame step, and an animated GIF: size, frame count and rate kept', async () => {
    const out = await outDir('out-odd');
    const r1 = await runCli('predict', clips.odd.file, clips.gif.file, ...CLI, '--outdir', out, '--frame-step', '2', '--normalize', 'frame', '--grayscale');
    expect(r1.err).toMatch(/odd\.mp4 -> .*odd_depth\.mp4 \(3 frames 75x47/);
    expect(r1.err).toMatch(/gif\.gif -> .*gif_depth\.mp4 \(3 frames 40x30/);
    expect(r1.code).toBe(0);
    const odd = ffprobe(path.join(out, 'odd_depth.mp4')).streams[0];
    expect([odd.width, odd.height, odd.r_frame_rate, odd.nb_read_frames, odd.pix_fmt]).toEqual([75, 47, '15000/1001', '3', 'yuv444p']);
    const gif = ffprobe(path.join(out, 'gif_depth.mp4')).streams[0];
    expect([gif.width, gif.height, gif.r_frame_rate, gif.nb_read_frames]).toEqual([40, 30, '5/1', '3']);
  });

  test('flicker: aligned clearly below frame on the pan, below it on the static clip; video below frame', async () => {
    const out = await outDir('out-flicker');
    const rows: string[] = [];
    for (const kind of ['static', 'pan'] as const) {
      const f = {} as Record<NormalizeMode, number>;
      for (const mode of NORMALIZE_MODES) {
        const r = await predictVideoFile(model, clips[kind].file, { outdir: out, stem: `${kind}-${mode}`, inputSize: SIZE, npy: true, normalize: mode, flickerShift: clips[kind].shift });
        f[mode] = r.flicker;
      }
      rows.push(`${kind}: frame ${f.frame.toFixed(2)}, video ${f.video.toFixed(2)}, aligned ${f.aligned.toFixed(2)}`);
      // The pan's flicker is measured along its known motion, so its content barely changes; on the
      // static clip most of the change is the random-weights model's own response to the noise.
      expect(f.aligned).toBeLessThan((kind === 'pan' ? 0.5 : 1) * f.frame);
      expect(f.video).toBeLessThan(f.frame);
    }
    process.stdout.write(`flicker (8-bit levels, v2-tiny at ${SIZE}): ${rows.join('; ')}\n`);
  });
});

describe('bad video input: one line, exit 1, nothing under the final name', () => {
  const expectOneFailure = async (file: string, pattern: RegExp, env: Record<string, string | undefined> = {}) => {
    const out = await outDir(`out-bad-${path.basename(file)}`);
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    for (const [k, v] of Object.entries(env)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
    try {
      const { code, err } = await runCli('predict', file, ...CLI, '--outdir', out, '--format', 'color,png16,npy');
      const failed = err.split('\n').filter((l) => l.includes('FAILED'));
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatch(pattern);
      expect(err).not.toMatch(/\n\s+at /); // no stack trace
      expect(code).toBe(1);
      return { out, line: failed[0] };
    } finally {
      for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
    }
  };

  test('not a video, no video stream, zero frames, huge frames', async () => {
    await fs.writeFile(path.join(dir, 'notes.mp4'), 'not a video');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=duration=0.5', '-c:a', 'aac', path.join(dir, 'sound.mp4')]);
    await fs.writeFile(path.join(dir, 'zero.y4m'), 'YUV4MPEG2 W64 H48 F25:1 Ip A1:1 C420jpeg\n');
    await fs.writeFile(path.join(dir, 'huge.y4m'), 'YUV4MPEG2 W8000 H6000 F25:1 Ip A1:1 C420jpeg\nFRAME\n');
    for (const [name, pattern] of [
      ['notes.mp4', /notes\.mp4: not a video ffprobe can read \(Invalid data found when processing input\)$/],
      ['sound.mp4', /sound\.mp4: no video stream \(streams: audio\)$/],
      ['zero.y4m', /zero\.y4m: the video has zero frames$/],
      ['huge.y4m', /huge\.y4m: frames are 8000x6000 = 48000000 pixels; at most 40000000 are accepted$/],
    ] as const) {
      const { out } = await expectOneFailure(path.join(dir, name), pattern);
      expect(await fs.readdir(out)).toEqual([]);
    }
  });

  test('truncated: the frames before the damage are written, the error says where decoding stopped', async () => {
    // A keyframe every 4 frames and the index first, so a cut file still has decodable frames.
    const whole = path.join(dir, 'static-faststart.mp4');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', clips.static.file, '-c:v', 'libx264', '-preset', 'veryfast', '-g', '4', '-movflags', '+faststart', whole]);
    const bytes = await fs.readFile(whole);
    const cut = path.join(dir, 'cut.mp4');
    await fs.writeFile(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const { out, line } = await expectOneFailure(cut, /cut\.mp4: damaged or truncated video: decoding stopped after (\d+) frames \(last at [\d.]+ s\) of 24 expected: .*; the \1 frames before were written to .*cut_depth\.mp4, .*cut_depth16\/, .*cut_depth\.npy$/);
    const n = Number(/after (\d+) frames/.exec(line)![1]);
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThan(24);
    expect((await fs.readdir(out)).sort()).toEqual(['cut_depth.mp4', 'cut_depth.npy', 'cut_depth16']);
    expect(decodeNpy(await fs.readFile(path.join(out, 'cut_depth.npy'))).shape).toEqual([n, 64, 96]);
    expect(ffprobe(path.join(out, 'cut_depth.mp4')).streams[0].nb_read_frames).toBe(String(n));
    expect((await fs.readdir(path.join(out, 'cut_depth16'))).length).toBe(n);
  });

  test('missing ffmpeg: says how to install it or point to one', async () => {
    await expectOneFailure(clips.pan.file, /pan\.mp4: reading video needs ffprobe, which is not on PATH; install ffmpeg \(Debian\/Ubuntu: apt-get install ffmpeg; .*\) or set FFMPEG_PATH and FFPROBE_PATH/,
      { PATH: '/nonexistent', FFMPEG_PATH: undefined, FFPROBE_PATH: undefined });
    await expectOneFailure(clips.pan.file, /pan\.mp4: FFMPEG_PATH=\/nonexistent\/ffmpeg is not an executable file; install ffmpeg/, { FFMPEG_PATH: '/nonexistent/ffmpeg' });
  });
});
