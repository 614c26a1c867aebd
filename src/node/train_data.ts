/**
 * Training data on disk: the official file lists (VKITTI2 / Hypersim `filelist.txt`: one
 * "IMAGE DEPTH" pair per line, paths absolute or relative to the list's folder), or a folder in the
 * evaluation layout (image/NAME.jpg + depth/NAME.png or .npy). Every file is checked before the
 * first step, so a missing depth file is one line naming it, not a crash in epoch 3.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import { DepthSample, listSamples, readGroundTruth } from './eval/datasets';
import { decodeImage } from './image';
import { RgbImage } from '../pipeline/rgb';
import { DepthMap, TrainDataError, checkSameSize } from '../train/transforms';

const exists = async (p: string) => (await fs.stat(p).catch(() => undefined))?.isFile() ?? false;

/** Samples of a file list or a folder; throws one TrainDataError naming the first problem. */
export async function listTrainSamples(source: string): Promise<DepthSample[]> {
  const stat = await fs.stat(source).catch(() => undefined);
  if (!stat) throw new TrainDataError(`${source}: no such file list or folder`);
  if (stat.isDirectory()) {
    try {
      return await listSamples('folder', source);
    } catch (e) {
      throw new TrainDataError((e as Error).message);
    }
  }
  const dir = path.dirname(source);
  const lines = (await fs.readFile(source, 'utf8')).split(/\r?\n/);
  const samples: DepthSample[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    const parts = line.split(/\s+/);
    if (parts.length !== 2) throw new TrainDataError(`${source}:${i + 1}: expected "IMAGE DEPTH" (two paths), got ${parts.length} field(s): ${line}`);
    const [image, depth] = parts.map((p) => (path.isAbsolute(p) ? p : path.join(dir, p)));
    if (!(await exists(image))) throw new TrainDataError(`${source}:${i + 1}: image file not found: ${image}`);
    if (!(await exists(depth))) throw new TrainDataError(`${source}:${i + 1}: depth file not found: ${depth}`);
    samples.push({ name: path.basename(parts[0]), image, depth });
  }
  if (!samples.length) throw new TrainDataError(`${source}: an empty file list`);
  return samples;
}

/** One sample's image and depth (metres = stored value / depthScale for 16-bit PNG; .npy in metres). */
export async function readTrainSample(s: DepthSample, depthScale: number): Promise<{ rgb: RgbImage; depth: DepthMap }> {
  const rgb = await decodeImage(s.image);
  const depth = await readGroundTruth(s.depth, path.extname(s.depth).toLowerCase() === '.npy' ? 1 : depthScale);
  checkSameSize(rgb, depth, s.depth);
  return { rgb, depth };
}
