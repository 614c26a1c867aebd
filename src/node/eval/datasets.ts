/**
 * Evaluation datasets as folders of (image, ground-truth depth) pairs, and the ground-truth
 * readers. Node only (sharp, fs).
 *
 * Layouts (see docs/evaluation.md):
 * - folder: DIR/image/NAME.{jpg,png,...} with DIR/depth/NAME.png (16-bit, metres = value /
 *   depth scale, 0 = invalid) or DIR/depth/NAME.npy (float32 metres); sub-folders allowed.
 * - nyu: the NYUv2 test split as exported by BTS / ZoeDepth / Depth Anything (654 images):
 *   <scene>/rgb_XXXXX.jpg beside sync_depth_XXXXX.png (16-bit, millimetres); depth_XXXXX.png
 *   or .npy also accepted.
 * - kitti: KITTI raw images (<date>/<drive>/image_0X/data/<frame>.png) with the annotated depth
 *   (<drive>/proj_depth/groundtruth/image_0X/<frame>.png, 16-bit, metres = value / 256, 0 =
 *   invalid), or the depth_selection form (image/<drive>_image_<frame>_image_0X.png beside
 *   groundtruth_depth/<drive>_groundtruth_depth_<frame>_image_0X.png).
 * - any kind with a split file (BTS / ZoeDepth `*_test_files_with_gt.txt`): one "image depth
 *   [focal]" line per sample, relative to the data folder (depth relative to gtDir if given);
 *   "None" depth lines are left out, as those loaders do.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import fg from 'fast-glob';
import sharp from 'sharp';
import { decodeNpy } from '../../io/npy';
import { CropName, RangeAndCrop } from '../../eval/protocols';
import { EvalError } from '../../eval/metrics';

export type DatasetKind = 'folder' | 'nyu' | 'kitti';
export const DATASET_KINDS: readonly DatasetKind[] = ['folder', 'nyu', 'kitti'];

export interface DatasetPreset extends RangeAndCrop {
  /** Stored PNG value per metre (1000: millimetres; 256: KITTI). `.npy` files are metres. */
  depthScale: number;
  /** KITTI's benchmark crop of image and ground truth to 352x1216, bottom-centred. */
  kbCrop: boolean;
}

/** Defaults per dataset; every field can be overridden from the command line. */
export const DATASET_PRESETS: Record<DatasetKind, DatasetPreset> = {
  // ZoeDepth / Depth Anything metric_depth DATASETS_CONFIG['nyu']: 1e-3..10 m, eigen_crop.
  nyu: { minDepth: 1e-3, maxDepth: 10, crop: 'eigen' as CropName, depthScale: 1000, kbCrop: false },
  // DATASETS_CONFIG['kitti']: 1e-3..80 m, garg_crop, do_kb_crop; GT PNG / 256 (KITTI devkit).
  kitti: { minDepth: 1e-3, maxDepth: 80, crop: 'garg' as CropName, depthScale: 256, kbCrop: true },
  // Our plain layout: millimetre PNGs (what `predict --format png16` writes), no crop.
  folder: { minDepth: 1e-3, maxDepth: 80, crop: 'none' as CropName, depthScale: 1000, kbCrop: false },
};

export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'png', 'webp', 'tif', 'tiff', 'bmp'];

export interface DepthSample {
  /** Stable id for reports: the image's path relative to the data folder, without extension. */
  name: string;
  image: string;
  depth: string;
}

export class DatasetError extends EvalError {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}

const stripExt = (p: string) => p.slice(0, p.length - path.extname(p).length);
const posix = (p: string) => p.split(path.sep).join('/');

async function isDir(p: string): Promise<boolean> {
  return (await fs.stat(p).catch(() => undefined))?.isDirectory() ?? false;
}

/** "a, b, c and 7 more" for error messages. */
function listSome(items: string[], n = 5): string {
  return items.slice(0, n).join(', ') + (items.length > n ? ` and ${items.length - n} more` : '');
}

const globImages = (cwd: string, prefix = '') =>
  fg(`**/${prefix}*.{${IMAGE_EXTENSIONS.join(',')}}`, { cwd, caseSensitiveMatch: false, onlyFiles: true });

async function listFolder(dir: string): Promise<DepthSample[]> {
  const imageDir = path.join(dir, 'image');
  const depthDir = path.join(dir, 'depth');
  if (!(await isDir(imageDir)) || !(await isDir(depthDir))) {
    throw new DatasetError(`${dir}: a folder dataset has two sub-folders, image/ (RGB) and depth/ (16-bit PNG or .npy, same names); missing ${!(await isDir(imageDir)) ? 'image/' : 'depth/'}`);
  }
  const images = (await globImages(imageDir)).sort();
  const depths = await fg('**/*.{png,npy}', { cwd: depthDir, caseSensitiveMatch: false, onlyFiles: true });
  const depthByStem = new Map<string, string[]>();
  for (const d of depths) depthByStem.set(stripExt(d), [...(depthByStem.get(stripExt(d)) ?? []), d]);
  const samples: DepthSample[] = [];
  const noDepth: string[] = [];
  const twoDepths: string[] = [];
  for (const rel of images) {
    const stem = stripExt(rel);
    const found = depthByStem.get(stem);
    if (!found) { noDepth.push(`image/${rel}`); continue; }
    if (found.length > 1) { twoDepths.push(found.map((f) => `depth/${f}`).join(' + ')); continue; }
    samples.push({ name: posix(stem), image: path.join(imageDir, rel), depth: path.join(depthDir, found[0]) });
  }
  const imageStems = new Set(images.map(stripExt));
  const noImage = [...depthByStem.keys()].filter((s) => !imageStems.has(s)).map((s) => `depth/${depthByStem.get(s)![0]}`);
  const problems: string[] = [];
  if (noDepth.length) problems.push(`${noDepth.length} image(s) without ground truth (depth/NAME.png or .npy): ${listSome(noDepth)}`);
  if (noImage.length) problems.push(`${noImage.length} ground-truth file(s) without an image: ${listSome(noImage)}`);
  if (twoDepths.length) problems.push(`ambiguous ground truth (both .png and .npy): ${listSome(twoDepths)}`);
  if (problems.length) throw new DatasetError(`${dir}: image/ and depth/ do not match: ${problems.join('; ')}`);
  if (!samples.length) throw new DatasetError(`${dir}: no images in image/ (${IMAGE_EXTENSIONS.join(', ')})`);
  return samples;
}

async function listNyu(dir: string): Promise<DepthSample[]> {
  const rgbs = (await globImages(dir, 'rgb_')).sort();
  if (!rgbs.length) throw new DatasetError(`${dir}: no NYUv2 images (rgb_XXXXX.jpg beside sync_depth_XXXXX.png) found in it or its sub-folders`);
  const samples: DepthSample[] = [];
  const missing: string[] = [];
  for (const rel of rgbs) {
    const folder = path.dirname(rel);
    const id = stripExt(path.basename(rel)).slice('rgb_'.length);
    const candidates = [`sync_depth_${id}.png`, `depth_${id}.png`, `depth_${id}.npy`].map((f) => path.join(dir, folder, f));
    let depth: string | undefined;
    for (const c of candidates) if ((await fs.stat(c).catch(() => undefined))?.isFile()) { depth = c; break; }
    if (!depth) { missing.push(rel); continue; }
    samples.push({ name: posix(stripExt(rel)), image: path.join(dir, rel), depth });
  }
  if (missing.length) throw new DatasetError(`${dir}: ${missing.length} NYUv2 image(s) without ground truth (sync_depth_XXXXX.png, depth_XXXXX.png or .npy beside them): ${listSome(missing)}`);
  return samples;
}

async function listKitti(dir: string, gtDir: string): Promise<DepthSample[]> {
  const samples: DepthSample[] = [];
  const missing: string[] = [];
  // Raw + annotated depth: <drive>/proj_depth/groundtruth/image_0X/<frame>.png <-> <drive>/image_0X/data/<frame>.png.
  const gts = (await fg('**/proj_depth/groundtruth/image_0[23]/*.png', { cwd: gtDir, onlyFiles: true })).sort();
  if (gts.length) {
    const images = new Map<string, string>();
    for (const rel of await fg('**/image_0[23]/data/*.png', { cwd: dir, onlyFiles: true })) {
      const parts = rel.split('/');
      images.set(parts.slice(-4).join('/'), rel); // drive/image_0X/data/frame.png
    }
    for (const rel of gts) {
      const parts = rel.split('/');
      const [drive, cam, frame] = [parts[parts.length - 5], parts[parts.length - 2], parts[parts.length - 1]];
      const img = images.get(`${drive}/${cam}/data/${frame}`);
      if (!img) { missing.push(rel); continue; }
      samples.push({ name: posix(stripExt(img)), image: path.join(dir, img), depth: path.join(gtDir, rel) });
    }
  }
  // depth_selection (val_selection_cropped): groundtruth_depth/<drive>_groundtruth_depth_<frame>_image_0X.png
  // <-> image/<drive>_image_<frame>_image_0X.png.
  for (const rel of (await fg('**/groundtruth_depth/*_groundtruth_depth_*.png', { cwd: gtDir, onlyFiles: true })).sort()) {
    const base = path.posix.basename(rel).replace('_groundtruth_depth_', '_image_');
    const imgRel = path.posix.join(path.posix.dirname(path.posix.dirname(rel)), 'image', base);
    if (!(await fs.stat(path.join(dir, imgRel)).catch(() => undefined))?.isFile()) { missing.push(rel); continue; }
    samples.push({ name: posix(stripExt(imgRel)), image: path.join(dir, imgRel), depth: path.join(gtDir, rel) });
  }
  if (missing.length) throw new DatasetError(`${dir}: ${missing.length} KITTI ground-truth map(s) without their image: ${listSome(missing)}`);
  if (!samples.length) {
    throw new DatasetError(`${gtDir}: no KITTI ground truth found (<drive>/proj_depth/groundtruth/image_0X/*.png, or depth_selection's groundtruth_depth/*.png); for the Eigen test split pass --split kitti_eigen_test_files_with_gt.txt`);
  }
  return samples;
}

/** A BTS / ZoeDepth split file: "image depth [focal]" per line; depth "None" = no ground truth. */
async function listSplit(splitFile: string, dir: string, gtDir: string): Promise<DepthSample[]> {
  let text: string;
  try {
    text = await fs.readFile(splitFile, 'utf8');
  } catch (e) {
    throw new DatasetError(`cannot read split file ${splitFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const samples: DepthSample[] = [];
  const missing: string[] = [];
  const strip = (p: string) => p.replace(/^[/\\]+/, ''); // as remove_leading_slash
  for (const [k, line] of text.split(/\r?\n/).entries()) {
    const fields = line.trim().split(/\s+/).filter(Boolean);
    if (!fields.length) continue;
    if (fields.length < 2) throw new DatasetError(`${splitFile}:${k + 1}: expected "image depth [focal]", got "${line.trim()}"`);
    if (fields[1] === 'None') continue;
    const image = path.join(dir, strip(fields[0]));
    const depth = path.join(gtDir, strip(fields[1]));
    for (const f of [image, depth]) if (!(await fs.stat(f).catch(() => undefined))?.isFile()) missing.push(f);
    samples.push({ name: posix(stripExt(strip(fields[0]))), image, depth });
  }
  if (missing.length) throw new DatasetError(`${splitFile}: ${missing.length} listed file(s) not found: ${listSome(missing)}`);
  if (!samples.length) throw new DatasetError(`${splitFile}: no samples with ground truth`);
  return samples;
}

export interface ListOptions {
  /** A split file ("image depth [focal]" lines) instead of discovering the pairs. */
  split?: string;
  /** Where ground-truth paths start, if not in the data folder (KITTI's annotated depth). */
  gtDir?: string;
}

/** The (image, ground truth) pairs of a dataset folder, sorted; a clear error if empty or mismatched. */
export async function listSamples(kind: DatasetKind, dir: string, opts: ListOptions = {}): Promise<DepthSample[]> {
  if (!(await isDir(dir))) throw new DatasetError(`${dir}: not a folder`);
  const gtDir = opts.gtDir ?? dir;
  if (opts.gtDir !== undefined && !(await isDir(gtDir))) throw new DatasetError(`${gtDir}: not a folder`);
  if (opts.split) return listSplit(opts.split, dir, gtDir);
  if (kind === 'folder') return listFolder(dir);
  if (kind === 'nyu') return listNyu(dir);
  return listKitti(dir, gtDir);
}

/** A depth map in metres, row-major; 0 (or NaN in .npy) marks pixels without ground truth. */
export interface GroundTruth {
  data: Float32Array;
  width: number;
  height: number;
}

/**
 * Reads ground truth: a single-channel 16-bit PNG (metres = value / depthScale), or a float32
 * `.npy` in metres of shape (H, W), (1, H, W) or (H, W, 1). 8-bit and colour PNGs are refused:
 * they are almost always a visualisation, not depth.
 */
export async function readGroundTruth(file: string, depthScale: number): Promise<GroundTruth> {
  if (!(depthScale > 0)) throw new DatasetError(`depth scale must be positive, got ${depthScale}`);
  if (path.extname(file).toLowerCase() === '.npy') {
    let bytes: Uint8Array;
    try {
      bytes = await fs.readFile(file);
    } catch (e) {
      throw new DatasetError(`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const { data, shape } = decodeNpy(bytes, file);
    const dims = shape.filter((d, i) => !(d === 1 && shape.length === 3 && (i === 0 || i === 2)));
    if (dims.length !== 2) throw new DatasetError(`${file}: ground truth has shape (${shape.join(', ')}); (H, W), (1, H, W) or (H, W, 1) expected`);
    return { data, height: dims[0], width: dims[1] };
  }
  let meta: Awaited<ReturnType<ReturnType<typeof sharp>['metadata']>>;
  try {
    meta = await sharp(file).metadata();
  } catch (e) {
    throw new DatasetError(`${file}: cannot read ground truth: ${(e as Error).message}`);
  }
  if (meta.format !== 'png' || meta.depth !== 'ushort' || meta.channels !== 1) {
    throw new DatasetError(`${file}: ground truth must be a single-channel 16-bit PNG (or float32 .npy); this is ${meta.format} with ${meta.channels} channel(s) of ${meta.depth === 'ushort' ? '16' : meta.depth === 'uchar' ? '8' : meta.depth}-bit samples`);
  }
  // toColourspace('grey16') keeps the stored values: without it sharp converts to 8-bit sRGB.
  const { data, info } = await sharp(file).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
  const u16 = new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
  if (info.channels !== 1 || u16.length !== info.width * info.height) throw new DatasetError(`${file}: decoded to ${info.channels} channels; 1 expected`);
  const out = new Float32Array(u16.length);
  for (let i = 0; i < u16.length; i++) out[i] = u16[i] / depthScale;
  return { data: out, width: info.width, height: info.height };
}

/** KITTI's benchmark crop (BTS / ZoeDepth `do_kb_crop`): 352x1216 at the bottom, centred; none if smaller. */
export function kbCropBox(width: number, height: number): { left: number; top: number; width: number; height: number } | undefined {
  if (height < 352 || width < 1216) return undefined;
  return { left: Math.trunc((width - 1216) / 2), top: height - 352, width: 1216, height: 352 };
}

/** A window of a row-major map with `channels` values per pixel. */
export function cropMap<T extends Float32Array | Uint8Array>(data: T, width: number, channels: number, box: { left: number; top: number; width: number; height: number }): T {
  const out = new (data.constructor as { new(n: number): T })(box.width * box.height * channels);
  for (let y = 0; y < box.height; y++) {
    const src = ((box.top + y) * width + box.left) * channels;
    out.set(data.subarray(src, src + box.width * channels), y * box.width * channels);
  }
  return out;
}
