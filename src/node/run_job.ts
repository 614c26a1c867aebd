/**
 * One job: one input (image or video) through a loaded model to its output files, exactly as
 * `predict` / `segment` write them. The CLI commands, the queue worker (src/service/) and the HTTP
 * API (bytes, not files) all run this code, so an output never depends on who produced it.
 * Outputs are encoded before the first is written and each is written atomically.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { ColormapName } from '../pipeline/colormap';
import { DepthMap } from '../pipeline/postprocess';
import { RgbImage } from '../pipeline/rgb';
import { DepthAnything } from './depth_anything';
import { decodeImage } from './image';
import {
  DEFAULT_FOCAL, OutputFormat, colorizeDepth, depthToNpy, depthToPng16, depthToPointCloud, pointCloudToPly, rgbToPng,
  sideBySide, writeOutputFile,
} from './outputs';
import { SEG_OUTPUT_NAMES, SegOutputFormat, colorizeLabels, labelsToPng, logitsToNpy, overlay } from './seg_outputs';
import { Segmentation, Segmenter } from './segmenter';
import { VideoModel, predictVideoFile } from './video/run';
import type { FrameSequence } from './video/frame_folder';
import { NormalizeMode } from './video/normalize';
import { SegMode } from '../config/semseg';

/** Extensions taken as video (a GIF is a video when it has several frames). */
export const VIDEO_EXTENSIONS = ['mp4', 'mov', 'm4v', 'mkv', 'webm', 'avi', 'mpg', 'mpeg', 'ts', 'y4m'];

export async function isVideoInput(file: string): Promise<boolean> {
  const ext = path.extname(file).slice(1).toLowerCase();
  if (VIDEO_EXTENSIONS.includes(ext)) return true;
  if (ext !== 'gif') return false;
  const meta = await sharp(file).metadata().catch(() => undefined);
  return (meta?.pages ?? 1) > 1;
}

/** What each depth format is written as: suffix added to the stem, and the file type it must be. */
export const OUTPUT_NAMES: Record<OutputFormat, { suffix: string; kind: 'npy' | 'png' | 'ply' }> = {
  color: { suffix: '_depth.png', kind: 'png' },
  png16: { suffix: '_depth16.png', kind: 'png' },
  npy: { suffix: '_depth.npy', kind: 'npy' },
  ply: { suffix: '_pointcloud.ply', kind: 'ply' },
};

/** The options of a depth job (the `predict` command's, minus inputs and backend). */
export interface DepthJobOptions {
  outdir: string;
  inputSize: number;
  format: OutputFormat[];
  colormap: ColormapName;
  predOnly?: boolean;
  grayscale?: boolean;
  focalLengthX?: number;
  focalLengthY?: number;
  /** V1 metric models: DepthModel.infer's padding and flip augmentations. */
  pad?: boolean;
  flip?: boolean;
  // Videos.
  normalize?: NormalizeMode;
  sideBySide?: boolean;
  maxFrames?: number;
  frameStep?: number;
  start?: number;
  end?: number;
  /** Video Depth Anything weights: the streaming mode instead of the offline pipeline. */
  streaming?: boolean;
}

/** One depth output as bytes, as `predict` writes it (the HTTP API answers with these). */
export async function encodeDepthOutput(format: OutputFormat, depth: DepthMap, image: RgbImage,
  opts: Pick<DepthJobOptions, 'colormap' | 'predOnly' | 'grayscale' | 'focalLengthX' | 'focalLengthY'>): Promise<Uint8Array> {
  if (format === 'npy') return depthToNpy(depth);
  if (format === 'png16') return depthToPng16(depth);
  if (format === 'ply') {
    if (!depth.metric) throw new JobInputError('--format ply needs a metric model (depth in metres); this model predicts relative depth');
    return pointCloudToPly(depthToPointCloud(depth, image, { fx: opts.focalLengthX ?? DEFAULT_FOCAL, fy: opts.focalLengthY ?? DEFAULT_FOCAL }));
  }
  const colored = colorizeDepth(depth, opts.grayscale ? 'grayscale' : opts.colormap);
  return rgbToPng(opts.predOnly ? colored : sideBySide(image, colored));
}

/** A job that cannot succeed as asked (an option that does not fit the model or the input). */
export class JobInputError extends Error {
  constructor(message: string) { super(message); this.name = 'JobInputError'; }
}

interface PendingFile { out: string; bytes: Uint8Array; kind: 'png' | 'npy' | 'ply' }

async function writeAll(files: PendingFile[]): Promise<string[]> {
  for (const f of files) {
    await fs.mkdir(path.dirname(f.out), { recursive: true });
    await writeOutputFile(f.out, f.bytes, f.kind);
  }
  return files.map((f) => f.out);
}

function target(outdir: string, stem: string, suffix: string, protectedPaths: Set<string>): string {
  const out = path.join(outdir, stem + suffix);
  if (protectedPaths.has(path.resolve(out))) throw new JobInputError(`output ${out} would replace an input image; choose another --outdir`);
  return out;
}

/** One image through the depth model to every requested file; returns the files written. */
export async function predictImageJob(model: Pick<DepthAnything, 'predict'>, file: string, stem: string, opts: DepthJobOptions, protectedPaths = new Set<string>()): Promise<string[]> {
  const image = await decodeImage(file);
  const depth = await model.predict(image, { inputSize: opts.inputSize, padInput: opts.pad, flip: opts.flip });
  const files: PendingFile[] = [];
  for (const format of opts.format) {
    const { suffix, kind } = OUTPUT_NAMES[format];
    files.push({ out: target(opts.outdir, stem, suffix, protectedPaths), bytes: await encodeDepthOutput(format, depth, image, opts), kind });
  }
  return writeAll(files);
}

/** One video (a file, or a frame sequence: a folder of images) through the depth model; `onProgress` gets frames done and the expected total. */
export async function predictVideoJob(model: VideoModel & { metric?: boolean }, file: string | FrameSequence, stem: string, opts: DepthJobOptions,
  protectedPaths = new Set<string>(), onProgress?: (done: number, total: number | undefined) => void): Promise<{ written: string[]; note: string }> {
  if (opts.format.includes('ply')) throw new JobInputError('--format ply is for images; videos write color (mp4), png16 (frame sequence) and npy (stack)');
  const r = await predictVideoFile(model, file, {
    outdir: opts.outdir, stem, inputSize: opts.inputSize,
    video: opts.format.includes('color'), png16: opts.format.includes('png16'), npy: opts.format.includes('npy'),
    normalize: opts.normalize, colormap: opts.grayscale ? 'grayscale' : opts.colormap, sideBySide: opts.sideBySide,
    maxFrames: opts.maxFrames, frameStep: opts.frameStep, start: opts.start, end: opts.end, streaming: opts.streaming, protectedPaths, onProgress,
  });
  const flicker = Number.isFinite(r.flicker) ? `, flicker ${r.flicker.toFixed(2)} levels (${opts.normalize ?? 'aligned'})` : '';
  return { written: r.written, note: `${r.frames} frames ${r.info.width}x${r.info.height}, ${(r.frames / r.seconds).toFixed(2)} fps${flicker}, ` };
}

/** An image or a video, as `predict` decides. */
export async function depthJob(model: DepthAnything, file: string, stem: string, opts: DepthJobOptions, protectedPaths = new Set<string>(),
  onProgress?: (done: number, total: number | undefined) => void): Promise<{ written: string[]; note: string }> {
  if (await isVideoInput(file)) return predictVideoJob(model, file, stem, opts, protectedPaths, onProgress);
  return { written: await predictImageJob(model, file, stem, opts, protectedPaths), note: '' };
}

/** The options of a segmentation job (the `segment` command's). */
export interface SegmentJobOptions {
  outdir: string;
  format: SegOutputFormat[];
  mode?: SegMode;
  crop?: number;
  stride?: number;
}

/** One segmentation output as bytes, as `segment` writes it. */
export async function encodeSegOutput(format: SegOutputFormat, seg: Segmentation, image: RgbImage): Promise<Uint8Array> {
  if (format === 'labels') return labelsToPng(seg);
  if (format === 'npy') return logitsToNpy(seg);
  if (format === 'color') return rgbToPng(colorizeLabels(seg));
  return rgbToPng(overlay(image, colorizeLabels(seg)));
}

/** One image through the segmenter to every requested file; returns the files written. */
export async function segmentImageJob(model: Segmenter, file: string, stem: string, opts: SegmentJobOptions, protectedPaths = new Set<string>()): Promise<string[]> {
  const image = await decodeImage(file);
  const seg = await model.segment(image, { mode: opts.mode, crop: opts.crop, stride: opts.stride, logits: opts.format.includes('npy') });
  const files: PendingFile[] = [];
  for (const format of opts.format) {
    const { suffix, kind } = SEG_OUTPUT_NAMES[format];
    files.push({ out: target(opts.outdir, stem, suffix, protectedPaths), bytes: await encodeSegOutput(format, seg, image), kind });
  }
  return writeAll(files);
}
