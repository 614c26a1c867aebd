/**
 * A video through the model, streamed: decode a frame, predict its depth exactly as `predict`
 * does for an image, normalise it for display, write it to every output, forget it. Outputs:
 * - `STEM_depth.mp4`: the colour-mapped depth (or the official side-by-side layout with the source's
 *   audio), at the source's size, rate (divided by --frame-step) and orientation;
 * - `STEM_depth16/000000.png, ...`: 16-bit levels (metric models: millimetres);
 * - `STEM_depth.npy`: raw float32 depth, frames x H x W.
 * Every output is built under a temporary name and moved into place at the end; a damaged input
 * still gets the frames decoded before the damage, and the error says where decoding stopped.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import type { RgbImage } from '../../pipeline/rgb';
import { DepthMap } from '../../pipeline/postprocess';
import { ColormapName, applyColormap } from '../../pipeline/colormap';
import { depthToUint16, sideBySide } from '../outputs';
import { DecodedFrame, FrameSelection, VideoDamagedError, checkSelection, decodeFrames, expectedFrames } from './decode';
import { VideoEncoder, tempName } from './encode';
import { FlickerMeter } from './flicker';
import { NpyStackWriter } from './npy_stack';
import { AlignedNormalizer, NormalizeMode, Normalizer, frameNormalizer, rangeOf, toLevels16, toLevels8, videoNormalizer } from './normalize';
import { VideoError, VideoInfo, probeVideo } from './probe';
import type { FrameSequence } from './frame_folder';

/** What a video needs from the model: the image `predict` (so each frame is exactly an image prediction). */
export interface FramePredictor {
  predict(image: RgbImage, opts?: { inputSize?: number }): Promise<DepthMap>;
}

/**
 * A temporal model (Video Depth Anything): frames go in one by one, depth frames come out in order
 * as they complete (the offline pipeline answers in windows), the rest at `finish`.
 */
export interface SequencePredictor {
  push(image: RgbImage): Promise<DepthMap[]>;
  finish(): Promise<DepthMap[]>;
}

/** A model the video code runs: per frame, or as a sequence (a temporal model). */
export type VideoModel = FramePredictor | (FramePredictor & { sequence(opts: { inputSize?: number; streaming?: boolean }): SequencePredictor });

export interface VideoPredictOptions extends FrameSelection {
  /** Network input lower bound, as for images (default 518). */
  inputSize?: number;
  /** Temporal models: the streaming mode (frame by frame against cached states) instead of the offline pipeline. */
  streaming?: boolean;
}

export interface VideoDepthFrame {
  /** Index among the kept frames, from 0. */
  index: number;
  /** Seconds from the start of the video. */
  time: number;
  depth: DepthMap;
  /** The decoded frame the depth is for. */
  image: RgbImage;
}

const isFrameSequence = (x: string | VideoInfo | FrameSequence): x is FrameSequence => typeof x === 'object' && 'frames' in x && typeof x.frames === 'function';

/** The selected frames of a video file (ffmpeg) or of a frame sequence (a folder of images). */
function framesOf(input: VideoInfo | FrameSequence, opts: VideoPredictOptions): AsyncGenerator<DecodedFrame, void, void> {
  return isFrameSequence(input) ? input.frames(opts) : decodeFrames(input, opts);
}

/** Depth for each selected frame of a video file (or a frame sequence), one at a time (`DepthAnything.predictVideo`). */
export async function* predictVideoFrames(model: VideoModel, input: string | VideoInfo | FrameSequence, opts: VideoPredictOptions = {}): AsyncGenerator<VideoDepthFrame, void, void> {
  const info = typeof input === 'string' ? await probeVideo(input) : input;
  if (!('sequence' in model)) {
    for await (const f of framesOf(info, opts)) yield await predictFrame(model, f, opts);
    return;
  }
  const seq = model.sequence({ ...(opts.inputSize !== undefined ? { inputSize: opts.inputSize } : {}), streaming: opts.streaming });
  // Decoded frames wait here until their depth completes (at most about two windows of them).
  const waiting: DecodedFrame[] = [];
  let pushed = 0;
  const pair = (maps: DepthMap[]): VideoDepthFrame[] => maps.map((depth) => {
    const f = waiting.shift()!;
    return { index: f.index, time: f.time, depth, image: f.image };
  });
  try {
    for await (const f of framesOf(info, opts)) {
      waiting.push(f);
      pushed++;
      yield* pair(await seq.push(f.image));
    }
  } catch (e) {
    // A damaged clip ends where decoding stopped: the frames before it are completed as a shorter clip.
    if (e instanceof VideoDamagedError && pushed) yield* pair(await seq.finish());
    throw e;
  }
  if (pushed) yield* pair(await seq.finish());
}

async function predictFrame(model: FramePredictor, f: DecodedFrame, opts: VideoPredictOptions): Promise<VideoDepthFrame> {
  const depth = await model.predict(f.image, opts.inputSize !== undefined ? { inputSize: opts.inputSize } : {});
  return { index: f.index, time: f.time, depth, image: f.image };
}

export interface VideoOutputOptions extends VideoPredictOptions {
  outdir: string;
  /** Output name without extension, relative to outdir. */
  stem: string;
  video?: boolean;
  png16?: boolean;
  npy?: boolean;
  /** Default 'aligned'. */
  normalize?: NormalizeMode;
  colormap?: ColormapName;
  /** The official layout: frame, 50-px white band, depth; with the source's audio. */
  sideBySide?: boolean;
  /** Frames sampled for the `video` range (default 16). */
  rangeSamples?: number;
  /** Paths that must never be replaced (the inputs). */
  protectedPaths?: Set<string>;
  onProgress?: (done: number, total: number | undefined) => void;
  /** Flicker measured with this known motion per frame (synthetic pans). */
  flickerShift?: { dx: number; dy: number };
}

export interface VideoRunResult {
  info: VideoInfo;
  frames: number;
  written: string[];
  /** Seconds for the whole video, including the range pass. */
  seconds: number;
  /** Mean absolute change of the 8-bit levels between consecutive frames (see flicker.ts). */
  flicker: number;
}

export const videoOutputNames = (stem: string) => ({ video: `${stem}_depth.mp4`, png16: `${stem}_depth16`, npy: `${stem}_depth.npy` });

/** Refuses to replace anything that is not a previous output of the same kind. */
async function checkReplaceable(target: string, kind: 'mp4' | 'npy' | 'pngdir', protectedPaths?: Set<string>): Promise<void> {
  if (protectedPaths?.has(path.resolve(target))) throw new VideoError(target, 'this output would replace an input; choose another --outdir');
  const st = await fs.lstat(target).catch(() => undefined);
  if (!st) return;
  if (kind === 'pngdir') {
    const ok = st.isDirectory() && (await fs.readdir(target)).every((n) => /^\d{6}\.png$/.test(n));
    if (!ok) throw new VideoError(target, 'exists and is not a previous PNG sequence; refusing to replace it');
    return;
  }
  if (!st.isFile()) throw new VideoError(target, 'exists and is not a regular file; refusing to replace it');
  const head = new Uint8Array(12);
  const fh = await fs.open(target, 'r');
  try { await fh.read(head, 0, 12, 0); } finally { await fh.close(); }
  const ok = kind === 'npy' ? [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59].every((b, i) => head[i] === b) : String.fromCharCode(...head.subarray(4, 8)) === 'ftyp';
  if (!ok) throw new VideoError(target, `exists and is not a ${kind} file; refusing to overwrite it`);
}

/** A folder of PNG frames built under a temporary name and swapped in at the end. */
class PngSequence {
  private constructor(readonly target: string, private readonly tmp: string) {}
  static async create(target: string): Promise<PngSequence> {
    const tmp = tempName(target);
    await fs.mkdir(tmp);
    return new PngSequence(target, tmp);
  }
  async add(index: number, levels: Uint16Array, width: number, height: number): Promise<void> {
    // A Uint16Array input tells sharp the samples are 16-bit.
    await sharp(levels, { raw: { width, height, channels: 1 } }).toColourspace('grey16').png()
      .toFile(path.join(this.tmp, `${String(index).padStart(6, '0')}.png`));
  }
  async finish(): Promise<void> {
    const old = await fs.lstat(this.target).then(() => tempName(this.target), () => undefined);
    if (old) await fs.rename(this.target, old);
    await fs.rename(this.tmp, this.target);
    if (old) await fs.rm(old, { recursive: true, force: true });
  }
  async abort(): Promise<void> {
    await fs.rm(this.tmp, { recursive: true, force: true });
  }
}

/** Output frame rate: the source's divided by the frame step, as a rational. */
export function outputRate(info: VideoInfo, step: number): string {
  const [a, b = '1'] = info.fpsRational.split('/');
  return step > 1 ? `${a}/${Number(b) * step}` : `${a}/${b}`;
}

/** The `video` range: min and max of the raw depth over about `samples` frames spread over the selection. */
async function sampleRange(model: VideoModel, input: VideoInfo | FrameSequence, opts: VideoOutputOptions): Promise<{ lo: number; hi: number }> {
  const info = isFrameSequence(input) ? input.info : input;
  const samples = opts.rangeSamples ?? 16;
  const total = expectedFrames(info, opts) ?? samples;
  const stride = Math.max(1, Math.floor(total / samples));
  // Within the selection: the same start/end, every stride-th kept frame, none past --max-frames.
  const sample = { ...opts, frameStep: (opts.frameStep ?? 1) * stride, maxFrames: Math.min(samples, Math.ceil(total / stride)) };
  let lo = Infinity, hi = -Infinity;
  try {
    for await (const f of predictVideoFrames(model, input, sample)) {
      const r = rangeOf(f.depth.data);
      lo = Math.min(lo, r.min);
      hi = Math.max(hi, r.max);
    }
  } catch (e) {
    // A damaged file: the main pass reports it; the frames sampled before the damage set the range.
    if (!(e instanceof VideoDamagedError) || !Number.isFinite(lo)) throw e;
  }
  return { lo, hi };
}

/** Runs one video (a file, or a frame sequence such as a folder of images) to its output files; see the file comment. */
export async function predictVideoFile(model: VideoModel & { metric?: boolean }, input: string | FrameSequence, opts: VideoOutputOptions): Promise<VideoRunResult> {
  const t0 = Date.now();
  checkSelection(opts);
  const source = typeof input === 'string' ? await probeVideo(input) : input;
  const info = isFrameSequence(source) ? source.info : source;
  const file = info.file;
  const names = videoOutputNames(opts.stem);
  const target = (n: string) => path.join(opts.outdir, n);
  if (!opts.video && !opts.png16 && !opts.npy) throw new VideoError(file, 'no video output requested (color, png16 or npy)');
  if (opts.video) await checkReplaceable(target(names.video), 'mp4', opts.protectedPaths);
  if (opts.png16) await checkReplaceable(target(names.png16), 'pngdir', opts.protectedPaths);
  if (opts.npy) await checkReplaceable(target(names.npy), 'npy', opts.protectedPaths);
  await fs.mkdir(path.dirname(target(names.npy)), { recursive: true });

  const { width, height } = info;
  const mode = opts.normalize ?? 'aligned';
  let normalizer: Normalizer;
  if (mode === 'frame') normalizer = frameNormalizer();
  else if (mode === 'aligned') normalizer = new AlignedNormalizer(width, height);
  else { const { lo, hi } = await sampleRange(model, source, opts); normalizer = videoNormalizer(lo, hi); }

  const step = opts.frameStep ?? 1;
  const total = expectedFrames(info, opts);
  let audio: { file: string; codec: string; start?: number; end?: number } | undefined;
  if (opts.sideBySide && info.audioCodec) {
    let end = opts.end;
    if (opts.maxFrames !== undefined) end = Math.min(end ?? Infinity, (opts.start ?? 0) + (opts.maxFrames * step) / info.fps);
    audio = { file, codec: info.audioCodec, start: opts.start, end: end === Infinity ? undefined : end };
  }
  const outW = opts.sideBySide ? 2 * width + 50 : width;
  const encoder = opts.video ? await VideoEncoder.start(target(names.video), { width: outW, height, fps: outputRate(info, step), audio }) : undefined;
  const npy = opts.npy ? await NpyStackWriter.create(target(names.npy), height, width).catch(async (e) => { await encoder?.abort(); throw e; }) : undefined;
  const pngs = opts.png16 ? await PngSequence.create(target(names.png16)).catch(async (e) => { await encoder?.abort(); await npy?.abort(); throw e; }) : undefined;
  const flicker = new FlickerMeter(width, height, { shift: opts.flickerShift });
  const colormap = opts.colormap ?? 'spectral_r';
  let frames = 0;
  let damaged: VideoDamagedError | undefined;
  try {
    try {
      for await (const f of predictVideoFrames(model, source, opts)) {
        const depth = f.depth.data;
        await npy?.append(depth);
        const norm = normalizer.apply(depth);
        const levels = toLevels8(norm);
        flicker.add(levels);
        if (encoder) {
          const colour: RgbImage = { data: applyColormap(levels, colormap), width, height };
          await encoder.write(opts.sideBySide ? sideBySide(f.image, colour).data : colour.data);
        }
        if (pngs) await pngs.add(f.index, f.depth.metric ? depthToUint16(f.depth) : toLevels16(norm), width, height);
        frames++;
        opts.onProgress?.(frames, total);
      }
    } catch (e) {
      if (!(e instanceof VideoDamagedError)) throw e;
      damaged = e;
    }
    if (damaged && frames === 0) throw damaged;
    await encoder?.finish();
    await npy?.finish();
    await pngs?.finish();
  } catch (e) {
    await encoder?.abort();
    await npy?.abort();
    await pngs?.abort();
    throw e;
  }
  const written = [opts.video && names.video, opts.png16 && `${names.png16}/`, opts.npy && names.npy].filter((n): n is string => Boolean(n)).map(target);
  if (damaged) throw new VideoError(file, `${damaged.message.slice(file.length + 2)}; the ${frames} frames before were written to ${written.join(', ')}`);
  return { info, frames, written, seconds: (Date.now() - t0) / 1000, flicker: flicker.value };
}
