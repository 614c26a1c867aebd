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
  const ext = path.extname(s.depth).toLowerCase();
  if (ext !== '.png' && ext !== '.npy') {
    throw new TrainDataError(`${s.depth}: depth in unknown units: a 16-bit PNG (value / --depth-scale = metres) or a float32 .npy in metres is expected, not ${ext || 'a file without an extension'}`);
  }
  const rgb = await decodeImage(s.image);
  let depth: DepthMap;
  try {
    depth = await readGroundTruth(s.depth, ext === '.npy' ? 1 : depthScale);
  } catch (e) {
    throw new TrainDataError((e as Error).message);
  }
  checkSameSize(rgb, depth, s.depth);
  checkUnits(depth.data, s.depth, ext);
  return { rgb, depth };
}

/**
 * No depth dataset has a typical depth past 1 km: a median above that is millimetres or
 * centimetres read as metres (a .npy not in metres, or the wrong --depth-scale), refused before it
 * trains the model to nonsense.
 */
export function checkUnits(depth: Float32Array, file: string, ext: string): void {
  const valid = Float32Array.from(depth.filter((d) => d > 0 && Number.isFinite(d))).sort();
  if (!valid.length) return;
  const median = valid[valid.length >> 1];
  if (median > 1000) {
    const fix = ext === '.npy' ? 'a .npy must hold metres' : 'set --depth-scale to the stored value per metre (VKITTI2 100, NYU/KITTI-style millimetres 1000, KITTI 256)';
    throw new TrainDataError(`${file}: depth in unknown units: the median valid depth reads as ${median.toPrecision(4)} m (more than 1 km): ${fix}`);
  }
}
