/**
 * What a depth map becomes on disk: raw float32 `.npy`, 16-bit PNG, colour-mapped PNG (alone or
 * beside the input, as the official run.py), and a coloured point cloud for metric models.
 * Encoders are pure (bytes out); `writeOutputFile` is the only writer.
 */
import { promises as fs } from 'fs';
import { writeFileAtomic } from './atomic';
import sharp from 'sharp';
import { RgbImage } from '../pipeline/rgb';
import { DepthMap } from '../pipeline/postprocess';
import { OutputError, depthToUint16 } from '../pipeline/depth_outputs';

export {
  OUTPUT_FORMATS, OutputError, SPLIT_WIDTH, depthToNpy, depthToUint16, colorizeDepth, sideBySide, DEFAULT_FOCAL,
  depthToPointCloud, pointCloudToPly,
} from '../pipeline/depth_outputs';
export type { OutputFormat, Intrinsics } from '../pipeline/depth_outputs';

export async function depthToPng16(depth: DepthMap): Promise<Uint8Array> {
  const levels = depthToUint16(depth);
  // A Uint16Array input tells sharp the samples are 16-bit.
  return sharp(levels, { raw: { width: depth.width, height: depth.height, channels: 1 } }).toColourspace('grey16').png().toBuffer();
}

export async function rgbToPng(img: RgbImage): Promise<Uint8Array> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).png().toBuffer();
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
