/**
 * What a depth map becomes on disk: raw float32 `.npy`, 16-bit PNG, colour-mapped PNG (alone or
 * beside the input, as the official run.py), and a coloured point cloud for metric models.
 * Encoders are pure (bytes out); `writeOutputFile` is the only writer.
 */
import { promises as fs } from 'fs';
import { writeFileAtomic } from '../io/atomic';
import sharp from 'sharp';
import { encodeNpy } from '../io/npy';
import { encodePly, PointCloud } from '../io/ply';
import { ColormapName, applyColormap, normalizeToUint8 } from './colormap';
import { RgbImage } from './image';
import { DepthMap } from './postprocess';

export type OutputFormat = 'npy' | 'png16' | 'color' | 'ply';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['npy', 'png16', 'color', 'ply'];

export class OutputError extends Error {
  constructor(message: string) { super(message); this.name = 'OutputError'; }
}

/** White gap between the input and its depth in the side-by-side image (official run.py: 50 px). */
export const SPLIT_WIDTH = 50;

/** Raw depth [height, width] float32, readable with `np.load`. */
export function depthToNpy(depth: DepthMap): Uint8Array {
  return encodeNpy(depth.data, [depth.height, depth.width]);
}

/**
 * 16-bit levels: relative depth min-max normalised to 0..65535 (a constant map gives 0);
 * metric depth in millimetres, clamped to 0..65535 (65.535 m).
 */
export function depthToUint16(depth: DepthMap): Uint16Array {
  const out = new Uint16Array(depth.data.length);
  const d = depth.data;
  const round = Math.round;
  if (depth.metric) {
    for (let i = 0; i < d.length; i++) { const mm = round(d[i] * 1000); out[i] = mm > 65535 ? 65535 : mm < 0 ? 0 : mm; }
    return out;
  }
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < d.length; i++) { if (d[i] < min) min = d[i]; if (d[i] > max) max = d[i]; }
  const range = max - min;
  if (!(range > 0)) return out;
  for (let i = 0; i < d.length; i++) out[i] = round(((d[i] - min) / range) * 65535);
  return out;
}

export async function depthToPng16(depth: DepthMap): Promise<Uint8Array> {
  const levels = depthToUint16(depth);
  // A Uint16Array input tells sharp the samples are 16-bit.
  return sharp(levels, { raw: { width: depth.width, height: depth.height, channels: 1 } }).toColourspace('grey16').png().toBuffer();
}

/** The official colour image: min-max to uint8, then the colour map (RGB). */
export function colorizeDepth(depth: DepthMap, colormap: ColormapName = 'spectral_r'): RgbImage {
  return { data: applyColormap(normalizeToUint8(depth.data), colormap), width: depth.width, height: depth.height };
}

/** The official side-by-side image: input, a 50-px white band, depth (same height). */
export function sideBySide(image: RgbImage, depthRgb: RgbImage): RgbImage {
  if (image.height !== depthRgb.height) {
    throw new OutputError(`side-by-side: image is ${image.height} px high but depth ${depthRgb.height}`);
  }
  const width = image.width + SPLIT_WIDTH + depthRgb.width;
  const data = new Uint8Array(width * image.height * 3).fill(255);
  for (let y = 0; y < image.height; y++) {
    const row = y * width * 3;
    data.set(image.data.subarray(y * image.width * 3, (y + 1) * image.width * 3), row);
    data.set(depthRgb.data.subarray(y * depthRgb.width * 3, (y + 1) * depthRgb.width * 3), row + (image.width + SPLIT_WIDTH) * 3);
  }
  return { data, width, height: image.height };
}

export async function rgbToPng(img: RgbImage): Promise<Uint8Array> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).png().toBuffer();
}

export interface Intrinsics {
  /** Focal lengths in pixels (official default 470.4 for both). */
  fx: number;
  fy: number;
}

export const DEFAULT_FOCAL = 470.4;

/**
 * Back-projects metric depth through a pinhole at the image centre, as the official
 * `depth_to_pointcloud.py`: x = (u - w/2) / fx * z, y = (v - h/2) / fy * z, coloured with the image.
 */
export function depthToPointCloud(depth: DepthMap, image: RgbImage, { fx, fy }: Intrinsics): PointCloud {
  if (!depth.metric) throw new OutputError('a point cloud needs metric depth (a metric model); this depth is relative');
  if (!(fx > 0 && fy > 0)) throw new OutputError(`focal lengths must be positive, got fx=${fx}, fy=${fy}`);
  if (image.width !== depth.width || image.height !== depth.height) {
    throw new OutputError(`point cloud: image is ${image.width}x${image.height} but depth ${depth.width}x${depth.height}`);
  }
  const { width: w, height: h } = depth;
  const positions = new Float32Array(w * h * 3);
  for (let v = 0; v < h; v++) {
    for (let u = 0; u < w; u++) {
      const i = v * w + u;
      const z = depth.data[i];
      positions[i * 3] = ((u - w / 2) / fx) * z;
      positions[i * 3 + 1] = ((v - h / 2) / fy) * z;
      positions[i * 3 + 2] = z;
    }
  }
  return { positions, colors: image.data.slice() };
}

export function pointCloudToPly(cloud: PointCloud): Uint8Array {
  return encodePly(cloud);
}

type FileKind = 'png' | 'npy' | 'ply' | 'safetensors';

const SIGNATURES: Record<FileKind, (head: Uint8Array) => boolean> = {
  png: (h) => [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].every((b, i) => h[i] === b),
  npy: (h) => [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59].every((b, i) => h[i] === b),
  ply: (h) => h[0] === 0x70 && h[1] === 0x6c && h[2] === 0x79 && (h[3] === 0x0a || h[3] === 0x0d),
  // 8-byte header length, then the JSON header's '{'.
  safetensors: (h) => h.length >= 9 && h[8] === 0x7b,
};

/**
 * Writes atomically (see writeFileAtomic). An existing `file` is replaced only if it is a regular file of the same kind (a previous
 * output); anything else (a folder, the input photo, another format) is refused.
 */
export async function writeOutputFile(file: string, bytes: Uint8Array, kind: FileKind): Promise<void> {
  let existing: import('fs').Stats | undefined;
  try {
    existing = await fs.lstat(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new OutputError(`cannot check ${file}: ${(e as Error).message}`);
  }
  if (existing) {
    if (!existing.isFile()) throw new OutputError(`${file} exists and is not a regular file; refusing to replace it`);
    const fh = await fs.open(file, 'r');
    const head = new Uint8Array(16);
    try { await fh.read(head, 0, 16, 0); } finally { await fh.close(); }
    if (!SIGNATURES[kind](head)) throw new OutputError(`${file} exists and is not a ${kind} file; refusing to overwrite it`);
  }
  try {
    await writeFileAtomic(file, bytes);
  } catch (e) {
    throw new OutputError(`cannot write ${file}: ${(e as Error).message}`);
  }
}
