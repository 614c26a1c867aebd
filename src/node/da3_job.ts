/**
 * Depth Anything 3 through `predict`: one image at a time (DA3MONO / DA3METRIC, or an any-view
 * model on one view), or several views as one scene (`--multiview`) with the scene files.
 *
 * Per-view outputs are at the processed size, next to the processed image: the official
 * `inference()` returns depth at the network's size and does not resize it back to the photo.
 * `npy` holds the prediction's depth as is (z-depth up to scale; DA3METRIC: metres); `color` and
 * `png16` show inverse depth (near is high, as for the other relative models and the official
 * `visualize_depth`), or metres for DA3METRIC. `--multiview` adds `cameras.json`, `scene.ply` and
 * `scene.glb` (the official GLB exporter's points and frustums). Every output is encoded before
 * the first is written; each is written atomically.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import { DepthMap } from '../pipeline/postprocess';
import { RgbImage } from '../pipeline/rgb';
import { Da3InputError } from '../pipeline/da3/errors';
import {
  DA3_DEFAULT_PROCESS_RES, DA3_DEFAULT_PROCESS_RES_METHOD, Da3CameraInput, Da3ProcessResMethod, roundHalfEven,
} from '../pipeline/da3/preprocess';
import { da3Scene } from '../pipeline/da3/scene';
import { DepthAnything3, Da3Inference, metricDepth } from './depth_anything3';
import { writeDa3SceneFiles } from './da3_scene_files';
import { decodeImage } from './image';
import { DEFAULT_FOCAL, OutputFormat, writeOutputFile } from './outputs';
import { DepthJobOptions, JobInputError, OUTPUT_NAMES, encodeDepthOutput } from './run_job';
import { decodeFrames } from './video/decode';
import { probeVideo } from './video/probe';

/** The scene files `--multiview` writes into the output folder. */
export const DA3_SCENE_FILES = ['scene.glb', 'scene.ply', 'cameras.json'] as const;

export interface Da3JobOptions extends DepthJobOptions {
  /** `process_res_method` (default upper_bound_resize); `inputSize` is `process_res`. */
  processResMethod?: Da3ProcessResMethod;
  /** Known cameras (any-view models): world-to-camera and K in pixels of the images as given. */
  cameras?: Da3CameraInput;
}

/** A view of a `--multiview` scene: a decoded image and the output name of its per-view files. */
export interface Da3View {
  image: RgbImage;
  /** Output name without extension, relative to the output folder. */
  stem: string;
  /** Shown in cameras.json (`image`). */
  name: string;
}

/**
 * The focal lengths at the processed size for a photo of `w` x `h` whose K has `fx`, `fy`:
 * InputProcessor's scaling (the boundary resize, then the resize to multiples of 14; a crop keeps
 * the scale). DA3METRIC's metres need them (`focal x depth / 300`).
 */
export function da3ProcessedFocal(w: number, h: number, fx: number, fy: number, processRes: number, method: Da3ProcessResMethod): { fx: number; fy: number } {
  let sx = 1, sy = 1;
  let cw = w, ch = h;
  const side = method.startsWith('upper') ? Math.max(w, h) : Math.min(w, h);
  if (side !== processRes) {
    const nw = Math.max(1, roundHalfEven((w * processRes) / side)), nh = Math.max(1, roundHalfEven((h * processRes) / side));
    sx = nw / w; sy = nh / h; cw = nw; ch = nh;
  }
  if (method.endsWith('resize')) {
    const nearest = (x: number): number => { const down = Math.floor(x / 14) * 14; return Math.abs(down + 14 - x) <= Math.abs(x - down) ? down + 14 : down; };
    const nw = Math.max(1, nearest(cw)), nh = Math.max(1, nearest(ch));
    sx *= nw / cw; sy *= nh / ch;
  }
  return { fx: fx * sx, fy: fy * sy };
}

const inferenceOptions = (opts: Da3JobOptions) => ({
  processRes: opts.inputSize ?? DA3_DEFAULT_PROCESS_RES,
  processResMethod: opts.processResMethod ?? DA3_DEFAULT_PROCESS_RES_METHOD,
  ...(opts.cameras ? { extrinsics: opts.cameras.extrinsics, intrinsics: opts.cameras.intrinsics } : {}),
});

/** View `i` of a prediction as the depth maps `predict`'s formats take: shown (colour, png16) and raw (npy). */
function viewMaps(p: Da3Inference, i: number, metres: Float32Array | null): { shown: DepthMap; raw: DepthMap; image: RgbImage } {
  const { width, height } = p;
  const hw = width * height;
  const image: RgbImage = { data: p.processedImages.slice(i * hw * 3, (i + 1) * hw * 3), width, height };
  if (metres) {
    const m = metres.slice(i * hw, (i + 1) * hw);
    return { shown: { data: m, width, height, metric: true }, raw: { data: m, width, height, metric: true }, image };
  }
  const depth = p.depth.slice(i * hw, (i + 1) * hw);
  const inverse = new Float32Array(hw);
  for (let k = 0; k < hw; k++) inverse[k] = depth[k] > 0 ? 1 / depth[k] : 0;
  return { shown: { data: inverse, width, height, metric: false }, raw: { data: depth, width, height, metric: false }, image };
}

interface Pending { out: string; bytes: Uint8Array; kind: 'png' | 'npy' | 'ply' }

function outputPath(outdir: string, stem: string, suffix: string, protectedPaths: Set<string>): string {
  const out = path.join(outdir, stem + suffix);
  if (protectedPaths.has(path.resolve(out))) throw new JobInputError(`output ${out} would replace an input; choose another --outdir`);
  return out;
}

/** Every per-view file of a prediction, encoded. DA3METRIC's `ply` uses the processed-size focal lengths. */
async function encodeViews(p: Da3Inference, stems: readonly string[], opts: Da3JobOptions, focal: { fx: number; fy: number } | null, protectedPaths: Set<string>): Promise<Pending[]> {
  const metres = p.metric ? metricDepth(p, p.intrinsics ?? focalStack(p.views, focal!)) : null;
  const files: Pending[] = [];
  for (let i = 0; i < p.views; i++) {
    const { shown, raw, image } = viewMaps(p, i, metres);
    for (const format of opts.format) {
      const { suffix, kind } = OUTPUT_NAMES[format as OutputFormat];
      const bytes = await encodeDepthOutput(format, format === 'npy' ? raw : shown, image,
        { ...opts, focalLengthX: focal?.fx ?? opts.focalLengthX, focalLengthY: focal?.fy ?? opts.focalLengthY });
      files.push({ out: outputPath(opts.outdir, stems[i], suffix, protectedPaths), bytes, kind });
    }
  }
  return files;
}

/** `[N, 3, 3]` pinhole matrices with the same focal lengths (the principal point does not enter the metric rule). */
function focalStack(n: number, f: { fx: number; fy: number }): Float32Array {
  const k = new Float32Array(n * 9);
  for (let i = 0; i < n; i++) { k[i * 9] = f.fx; k[i * 9 + 4] = f.fy; k[i * 9 + 8] = 1; }
  return k;
}

async function writeAll(files: Pending[]): Promise<string[]> {
  for (const f of files) {
    await fs.mkdir(path.dirname(f.out), { recursive: true });
    await writeOutputFile(f.out, f.bytes, f.kind);
  }
  return files.map((f) => f.out);
}

/** One image through a DA3 model as a one-view scene (any-view) or a monocular prediction. */
export async function predictDa3ImageJob(model: DepthAnything3, file: string, stem: string, opts: Da3JobOptions, protectedPaths = new Set<string>()): Promise<string[]> {
  const image = await decodeImage(file, file, { autoOrient: false });
  const p = await model.inference([image], inferenceOptions(opts));
  const focal = da3ProcessedFocal(image.width, image.height, opts.focalLengthX ?? DEFAULT_FOCAL, opts.focalLengthY ?? DEFAULT_FOCAL,
    opts.inputSize ?? DA3_DEFAULT_PROCESS_RES, opts.processResMethod ?? DA3_DEFAULT_PROCESS_RES_METHOD);
  return writeAll(await encodeViews(p, [stem], opts, focal, protectedPaths));
}

/**
 * The views of a `--multiview` scene: each image file is one view; each video gives the frames its
 * selection keeps (`--frame-step`, `--max-frames`, `--start`, `--end`), named `<stem>_<frame>`.
 * Any view that cannot be read stops the scene before anything is written.
 */
export async function readDa3Views(inputs: ReadonlyArray<{ file: string; stem: string; video: boolean }>, opts: Da3JobOptions): Promise<Da3View[]> {
  const views: Da3View[] = [];
  for (const input of inputs) {
    if (!input.video) {
      // As the official loader opens them: PIL, no EXIF rotation.
      views.push({ image: await decodeImage(input.file, input.file, { autoOrient: false }), stem: input.stem, name: path.basename(input.file) });
      continue;
    }
    const info = await probeVideo(input.file);
    for await (const f of decodeFrames(info, { frameStep: opts.frameStep, maxFrames: opts.maxFrames, start: opts.start, end: opts.end })) {
      const n = String(f.index * (opts.frameStep ?? 1)).padStart(6, '0');
      views.push({ image: f.image, stem: `${input.stem}_${n}`, name: `${path.basename(input.file)}#${f.time.toFixed(3)}s` });
    }
  }
  if (!views.length) throw new Da3InputError('--multiview: no views (Depth Anything 3 needs at least one image)');
  return views;
}

/** Several views through an any-view DA3 model as one scene: per-view files and the scene files. */
export async function predictDa3SceneJob(model: DepthAnything3, views: readonly Da3View[], opts: Da3JobOptions, protectedPaths = new Set<string>()): Promise<{ written: string[]; prediction: Da3Inference }> {
  if (!model.anyView) {
    throw new JobInputError(`--multiview needs an any-view Depth Anything 3 model (da3-small, da3-base, da3-large, da3-giant); ${model.source} is monocular (DA3MONO/DA3METRIC): run it without --multiview, one image at a time`);
  }
  if (opts.format.includes('ply')) throw new JobInputError('--multiview writes the scene as scene.ply and scene.glb; --format ply (per-image metric point clouds) does not apply');
  const stems = new Set<string>();
  for (const v of views) {
    if (stems.has(v.stem)) throw new JobInputError(`two views would write the same outputs (${v.stem}${OUTPUT_NAMES[opts.format[0]].suffix}); rename one`);
    stems.add(v.stem);
  }
  const sceneTargets = DA3_SCENE_FILES.map((n) => path.join(opts.outdir, n));
  for (const t of sceneTargets) if (protectedPaths.has(path.resolve(t))) throw new JobInputError(`output ${t} would replace an input; choose another --outdir`);
  const p = await model.inference(views.map((v) => v.image), inferenceOptions(opts));
  const files = await encodeViews(p, views.map((v) => v.stem), opts, null, protectedPaths);
  const scene = da3Scene({ ...p, extrinsics: p.extrinsics!, intrinsics: p.intrinsics! });
  const cameras = { views: p.views, height: p.height, width: p.width, extrinsics: p.extrinsics!, intrinsics: p.intrinsics!, names: views.map((v) => v.name) };
  const written = await writeAll(files);
  written.push(...await writeDa3SceneFiles(opts.outdir, scene, cameras));
  return { written, prediction: p };
}

/**
 * Known cameras from a JSON file: `{ "extrinsics": [N][4][4] (or [N][3][4]) world-to-camera,
 * "intrinsics": [N][3][3] }` in pixels of the images as given. Shapes and the count are checked
 * against the views by the preprocessing; this only reads the file.
 */
export async function readDa3CamerasFile(file: string): Promise<Da3CameraInput> {
  let json: unknown;
  try {
    json = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (e) {
    throw new Da3InputError(`--cameras ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const j = json as { extrinsics?: unknown; intrinsics?: unknown };
  if (!j || typeof j !== 'object' || !Array.isArray(j.extrinsics) || !Array.isArray(j.intrinsics)) {
    throw new Da3InputError(`--cameras ${file}: expected {"extrinsics": [N][4][4] world-to-camera, "intrinsics": [N][3][3]} (arrays, one matrix per view)`);
  }
  return { extrinsics: j.extrinsics as Da3CameraInput['extrinsics'], intrinsics: j.intrinsics as Da3CameraInput['intrinsics'] };
}
