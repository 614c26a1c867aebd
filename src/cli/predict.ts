/**
 * `depth-anything predict INPUTS... --weights W`: images (files, folders, globs) to depth files.
 * One image failing (unreadable, too large) is reported and the batch goes on; the exit code is
 * non-zero if any failed. Outputs are written atomically and never replace an input or a file
 * of another type.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import { Command, InvalidArgumentError, Option } from 'commander';
import fg from 'fast-glob';
import { SingleBar } from 'cli-progress';
import { BackendName } from '../backends/node';
import { DepthAnything } from '../node/depth_anything';
import { VideoDepthAnything } from '../node/video_depth_anything';
import { DepthAnything3 } from '../node/depth_anything3';
import { Da3JobOptions, predictDa3ImageJob, predictDa3SceneJob, readDa3CamerasFile, readDa3Views } from '../node/da3_job';
import { DA3_DEFAULT_PROCESS_RES, DA3_PROCESS_RES_METHODS, Da3ProcessResMethod } from '../pipeline/da3/preprocess';
import { weightsFileKeys } from '../node/weights_file';
import { isVdaStateDict } from '../weights/detect';
import { FrameSequence, openFrameFolder } from '../node/video/frame_folder';
import { checkInputSize } from '../pipeline/preprocess';
import { COLORMAP_NAMES } from '../pipeline/colormap';
import { DEFAULT_FOCAL, OUTPUT_FORMATS, OutputFormat } from '../node/outputs';
import { backendOption, threadsOption } from './common';
import { progressReporter } from './download';
import { downloadModel, licenceLine } from '../node/hub';
import { depthKind } from '../config/depth';
import { VideoCliOptions, addVideoOptions, predictVideoInput } from './video';
import { DepthJobOptions, OUTPUT_NAMES, VIDEO_EXTENSIONS, isVideoInput, predictImageJob } from '../node/run_job';
import { stderrIsTTY } from './tty';

/** Extensions looked for inside folders (explicit files are always tried, whatever their name). */
export const IMAGE_EXTENSIONS = ['jpg', 'jpeg', 'jpe', 'png', 'webp', 'tif', 'tiff', 'gif', 'avif'];

export interface InputFile {
  /** The path as found. */
  file: string;
  /** Output name without extension, relative to the output folder (sub-folders kept for folder inputs). */
  stem: string;
  /** Temporal models: a folder of image frames taken as one clip (`file` is the folder). */
  frames?: string[];
}

const stripExt = (p: string): string => p.slice(0, p.length - path.extname(p).length);

/**
 * Files, folders (searched recursively for images) and glob patterns to a list of images.
 * `unmatched` lists arguments that name nothing.
 */
export async function expandInputs(args: string[]): Promise<{ inputs: InputFile[]; unmatched: string[] }> {
  const inputs: InputFile[] = [];
  const unmatched: string[] = [];
  const seen = new Set<string>();
  const add = (file: string, stem: string) => {
    const key = path.resolve(file);
    if (seen.has(key)) return;
    seen.add(key);
    inputs.push({ file, stem });
  };
  const pattern = `**/*.{${[...IMAGE_EXTENSIONS, ...VIDEO_EXTENSIONS].join(',')}}`;
  for (const arg of args) {
    const st = await fs.stat(arg).catch(() => undefined);
    if (st?.isFile()) {
      add(arg, stripExt(path.basename(arg)));
    } else if (st?.isDirectory()) {
      const found = (await fg(pattern, { cwd: arg, caseSensitiveMatch: false, onlyFiles: true })).sort();
      if (!found.length) unmatched.push(arg);
      for (const rel of found) add(path.join(arg, rel), stripExt(rel));
    } else if (fg.isDynamicPattern(arg)) {
      const found = (await fg(arg, { onlyFiles: true })).sort();
      if (!found.length) unmatched.push(arg);
      for (const f of found) add(f, stripExt(path.basename(f)));
    } else {
      unmatched.push(arg);
    }
  }
  return { inputs, unmatched };
}

/**
 * The image files directly inside a folder (not its sub-folders), for a temporal model that takes
 * the folder as one clip; empty when the argument is not a folder or holds no images.
 */
export async function frameFolderFiles(arg: string): Promise<string[]> {
  const st = await fs.stat(arg).catch(() => undefined);
  if (!st?.isDirectory()) return [];
  const names = (await fs.readdir(arg)).filter((n) => IMAGE_EXTENSIONS.includes(path.extname(n).slice(1).toLowerCase()));
  // Files and links to files (not sub-folders named like images).
  const isFile = await Promise.all(names.map((n) => fs.stat(path.join(arg, n)).then((s) => s.isFile(), () => false)));
  return names.filter((_, i) => isFile[i]).map((n) => path.join(arg, n));
}

export function parseFormats(value: string): OutputFormat[] {
  const list = value.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = list.filter((f) => !OUTPUT_FORMATS.includes(f as OutputFormat));
  if (bad.length || !list.length) {
    throw new Error(`--format: unknown format ${bad.map((b) => `"${b}"`).join(', ') || '(empty)'}; choose from ${OUTPUT_FORMATS.join(', ')}`);
  }
  return [...new Set(list as OutputFormat[])];
}

/** `predict`'s options: the job's (node/run_job.ts) plus where the model comes from and how it runs. */
export interface PredictCliOptions extends VideoCliOptions, Omit<DepthJobOptions, keyof VideoCliOptions | 'focalLengthX' | 'focalLengthY' | 'pad' | 'flip'> {
  weights?: string;
  model?: string;
  config?: string;
  focalLengthX: number;
  focalLengthY: number;
  backend: string;
  threads?: number;
  /** V1 metric models: DepthModel.infer's padding and flip augmentations (--no-pad, --no-flip). */
  pad: boolean;
  flip: boolean;
  /** Depth Anything 3: every input is a view of one scene. */
  multiview?: boolean;
  processResMethod?: Da3ProcessResMethod;
  /** Depth Anything 3 --multiview: known cameras (JSON file). */
  cameras?: string;
}

type ModelKind = 'depth' | 'da3' | 'vda' | 'da3-nested';

/** Which loader a weights file needs, from its tensor names (a header read; a .pth is read once). */
async function weightsKind(file: string): Promise<ModelKind> {
  const keys = await weightsFileKeys(file);
  if (keys?.has('model.backbone.pretrained.pos_embed')) return 'da3';
  if (keys?.has('model.da3.backbone.pretrained.pos_embed')) return 'da3-nested';
  if (keys && isVdaStateDict(keys)) return 'vda';
  return 'depth';
}

/** Wraps a value check so commander reports its message as a usage error. */
const asArgument = <T>(check: (v: string) => T) => (v: string): T => {
  try {
    return check(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};

export const inputSizeArg = asArgument((v) => checkInputSize(Number(v)));

/** predict's --input-size: an integer >= 14 here; a multiple of 14 once the model is known not to be DA3 (whose process_res may be any). */
const processSizeArg = asArgument((v) => {
  const n = Number(v);
  if (!(Number.isInteger(n) && n >= 14)) checkInputSize(n);
  return n;
});

const positiveNumber = (name: string) => asArgument((v: string): number => {
  const n = Number(v);
  if (!(Number.isFinite(n) && n > 0)) throw new Error(`${name} must be a positive number, got "${v}"`);
  return n;
});

export function registerPredict(program: Command): void {
  const cmd = program
    .command('predict')
    .description('estimate depth for images and videos: colour PNG/MP4 (official look), 16-bit PNG, .npy, point cloud (metric models)')
    .argument('<inputs...>', 'image or video files, folders (searched recursively) or glob patterns (quote them)')
    .option('--weights <file>', 'weights: official .pth, Hugging Face safetensors, or converted safetensors')
    .option('--model <name>', 'an official model by name, downloaded once into the cache (v2-small, v2-base, v2-large, v1-small, metric-indoor-small, da3-small, da3mono-large, da3metric-large, vda-small, ...; `download --list` lists them with their licences), instead of --weights')
    .option('--config <file|variant>', 'model configuration: config.json (fixtures\' schema) or a variant name such as v2-vits; default: from the weights')
    .option('--outdir <dir>', 'output folder', 'vis_depth')
    .option('--input-size <n>', `network input lower bound, a multiple of 14 (Depth Anything 3: process_res, any integer >= 14, default ${DA3_DEFAULT_PROCESS_RES})`, processSizeArg, 518)
    .option('--format <list>', `comma-separated outputs: ${OUTPUT_FORMATS.join(', ')}`, asArgument(parseFormats), ['color'] as OutputFormat[])
    .addOption(new Option('--colormap <name>', 'palette of the colour output').choices(COLORMAP_NAMES as string[]).default('spectral_r'))
    .option('--pred-only', 'colour output: the depth alone, not beside the input')
    .option('--grayscale', 'colour output without a palette (as --colormap grayscale)')
    .option('--focal-length-x <px>', 'point cloud: focal length in pixels along x', positiveNumber('--focal-length-x'), DEFAULT_FOCAL)
    .option('--focal-length-y <px>', 'point cloud: focal length in pixels along y', positiveNumber('--focal-length-y'), DEFAULT_FOCAL)
    .option('--no-pad', 'V1 metric models: no reflect-padding augmentation (official infer pads by default)')
    .option('--no-flip', 'V1 metric models: no horizontal-flip averaging (official infer flips by default)')
    .option('--multiview', 'Depth Anything 3 any-view models: all inputs are views of one scene (a video gives the frames --frame-step/--max-frames keep); writes cameras.json, scene.ply, scene.glb besides each view\'s depth')
    .addOption(new Option('--process-res-method <method>', 'Depth Anything 3: how --input-size (process_res) applies (official default upper_bound_resize)').choices(DA3_PROCESS_RES_METHODS as unknown as string[]))
    .option('--cameras <file>', 'Depth Anything 3 --multiview: known cameras, JSON {"extrinsics": [N][4][4] world-to-camera (OpenCV), "intrinsics": [N][3][3] in pixels of the images}')
    .addOption(backendOption())
    .addOption(threadsOption());
  addVideoOptions(cmd)
    .action(async (args: string[], opts: PredictCliOptions, cmd: Command) => {
      if ((opts.weights === undefined) === (opts.model === undefined)) cmd.error('error: pass either --weights FILE or --model NAME');
      if (opts.model !== undefined) process.stderr.write(`${licenceLine(opts.model)}\n`);
      const weights = opts.weights ?? (await downloadModel(opts.model!, { onProgress: progressReporter(opts.model!) })).path;
      const kind = await weightsKind(weights);
      if (kind === 'da3-nested') {
        cmd.error(`error: ${weights} is DA3NESTED-GIANT-LARGE (DA3-GIANT and DA3METRIC-LARGE composed, keys model.da3.* and model.da3_metric.*); the composition is not built here: run --model da3-giant (--multiview) and --model da3metric-large`);
      }
      if (opts.multiview && kind !== 'da3') cmd.error(`error: --multiview is for Depth Anything 3 any-view models (da3-small, da3-base, da3-large, da3-giant); ${weights} is ${kind === 'vda' ? 'a Video Depth Anything' : 'a Depth Anything V1/V2'} checkpoint`);
      if (opts.processResMethod !== undefined && kind !== 'da3') cmd.error('error: --process-res-method is for Depth Anything 3 models');
      if (opts.cameras !== undefined && !opts.multiview) cmd.error('error: --cameras needs --multiview (one camera per view of the scene)');
      if (opts.streaming && kind !== 'vda') cmd.error('error: --streaming is for Video Depth Anything weights');
      // Depth Anything 3's process_res defaults to 504, the other models' input size to 518.
      if (kind === 'da3' && cmd.getOptionValueSource('inputSize') === 'default') opts.inputSize = DA3_DEFAULT_PROCESS_RES;
      if (kind !== 'da3') {
        try { checkInputSize(opts.inputSize); } catch (e) { cmd.error(`error: option '--input-size <n>' argument '${opts.inputSize}' is invalid. ${(e as Error).message}`); }
      }

      // A temporal model takes a folder of image frames as one clip.
      const folderClips: InputFile[] = [];
      let rest = args;
      if (kind === 'vda') {
        rest = [];
        for (const arg of args) {
          const frames = await frameFolderFiles(arg);
          if (frames.length) folderClips.push({ file: arg, stem: path.basename(path.resolve(arg)), frames });
          else rest.push(arg);
        }
      }
      const expanded = rest.length ? await expandInputs(rest) : { inputs: [], unmatched: [] };
      const inputs = [...folderClips, ...expanded.inputs];
      const { unmatched } = expanded;
      for (const u of unmatched) process.stderr.write(`error: ${u}: no such file, or no image matches\n`);
      if (!inputs.length) cmd.error(`error: no images to process in ${args.join(', ')}`);

      const loadOpts = { backend: opts.backend as BackendName, threads: opts.threads, config: opts.config };
      const model = kind === 'vda' ? await VideoDepthAnything.load(weights, loadOpts)
        : kind === 'da3' ? await DepthAnything3.load(weights, loadOpts)
          : await DepthAnything.load(weights, loadOpts);
      try {
        if (model instanceof VideoDepthAnything) {
          const m = model.config.model;
          process.stderr.write(`model: Video Depth Anything ${m.encoder} (width ${m.embedDim}, ${m.depth} blocks) ${model.metric ? 'metric' : 'relative'}, ${opts.streaming ? 'streaming' : 'offline windows of 32'}, from ${weights}; backend: ${model.backend.description}\n`);
        } else if (model instanceof DepthAnything3) {
          const n = model.config.net;
          process.stderr.write(`model: Depth Anything 3 ${n.name} (width ${n.embedDim}, ${n.depth} blocks) ${model.anyView ? 'any-view' : model.metric ? 'monocular metric' : 'monocular'}, process_res ${opts.inputSize} ${opts.processResMethod ?? 'upper_bound_resize'}, from ${weights}; backend: ${model.backend.description}\n`);
        } else {
          process.stderr.write(`model: ${model.config.version} ${model.config.encoder} (width ${model.config.embedDim}, ${model.config.depth} blocks) ${depthKind(model.config)}${model.weightsPrecision === 'q8' ? ', 8-bit weights (q8, dequantised at load)' : ''} from ${weights}; backend: ${model.backend.description}\n`);
        }
        if (opts.format.includes('ply') && !model.metric && !opts.multiview) {
          cmd.error('error: --format ply needs a metric model (depth in metres); this model predicts relative depth');
        }
        if (model instanceof DepthAnything3 && opts.multiview) {
          process.exitCode = await runDa3Scene(model, inputs, unmatched.length, opts);
          return;
        }
        await fs.mkdir(opts.outdir, { recursive: true });
        const protectedPaths = new Set(inputs.map((i) => path.resolve(i.file)));
        // Two inputs with one output name (a.jpg and a.png) would overwrite each other: the later one fails.
        const stems = new Map<string, string>();

        const tty = stderrIsTTY();
        const isVideo = await Promise.all(inputs.map((i) => (i.frames ? true : isVideoInput(i.file))));
        // Videos show a bar of their frames instead.
        const bar = tty && !isVideo.some(Boolean) ? new SingleBar({ format: ' {bar} {value}/{total} | {file}', stream: process.stderr, clearOnComplete: true, hideCursor: true }) : undefined;
        bar?.start(inputs.length, 0, { file: '' });
        // Per-image lines go above the bar: clear the bar's line, print, let the bar redraw.
        const say = (line: string) => process.stderr.write(`${bar ? '\r\x1b[2K' : ''}${line}\n`);
        let failed = unmatched.length;
        let ok = 0;
        const start = Date.now();
        for (const [k, input] of inputs.entries()) {
          bar?.update(k, { file: input.file });
          const t0 = Date.now();
          try {
            const clash = stems.get(input.stem);
            if (clash !== undefined) throw new Error(`its outputs would have the same names as those of ${clash} (${input.stem}${OUTPUT_NAMES[opts.format[0]].suffix})`);
            stems.set(input.stem, input.file);
            let clip: string | FrameSequence = input.file;
            if (input.frames) {
              clip = await openFrameFolder(input.file, input.frames);
              for (const f of input.frames) protectedPaths.add(path.resolve(f));
            }
            if (model instanceof DepthAnything3 && isVideo[k]) {
              throw new Error('Depth Anything 3 takes a video as views of one scene: add --multiview (with --frame-step / --max-frames to sample the frames)');
            }
            const { written, note } = model instanceof DepthAnything3
              ? { written: await predictDa3ImageJob(model, input.file, input.stem, { ...opts, cameras: undefined }, protectedPaths), note: '' }
              : isVideo[k]
                ? await predictVideoInput(model, clip, input.stem, opts, protectedPaths, tty)
                : { written: await predictImageJob(model, input.file, input.stem, opts, protectedPaths), note: '' };
            ok++;
            say(`[${k + 1}/${inputs.length}] ${input.file} -> ${written.join(', ')} (${note}${((Date.now() - t0) / 1000).toFixed(2)} s)`);
          } catch (e) {
            failed++;
            const msg = (e as Error).message;
            say(`[${k + 1}/${inputs.length}] FAILED ${input.file}: ${msg.startsWith(`${input.file}: `) ? msg.slice(input.file.length + 2) : msg}`);
          }
          bar?.update(k + 1, { file: input.file });
        }
        bar?.update(inputs.length, { file: '' });
        bar?.stop();
        const secs = (Date.now() - start) / 1000;
        process.stderr.write(`done: ${ok} written, ${failed} failed, ${secs.toFixed(1)} s${ok ? ` (${(secs / Math.max(1, ok + failed - unmatched.length)).toFixed(2)} s per image)` : ''}; outputs in ${opts.outdir}\n`);
        process.exitCode = failed ? 1 : 0;
      } finally {
        model.dispose();
      }
    });
}

/**
 * `--multiview`: every input is a view of one scene (videos give their selected frames); one
 * line for the scene, and nothing written when a view cannot be read or the scene cannot run.
 */
async function runDa3Scene(model: DepthAnything3, inputs: InputFile[], unmatched: number, opts: PredictCliOptions): Promise<number> {
  const t0 = Date.now();
  const what = inputs.length === 1 ? inputs[0].file : `${inputs.length} inputs`;
  try {
    if (unmatched) throw new Error('an input names nothing (above); a scene is built from all of its views or not at all');
    const video = await Promise.all(inputs.map((i) => isVideoInput(i.file)));
    const { cameras: camerasFile, ...rest } = opts;
    const jobOpts: Da3JobOptions = { ...rest, ...(camerasFile ? { cameras: await readDa3CamerasFile(camerasFile) } : {}) };
    const views = await readDa3Views(inputs.map((i, k) => ({ ...i, video: video[k] })), jobOpts);
    await fs.mkdir(opts.outdir, { recursive: true });
    const protectedPaths = new Set(inputs.map((i) => path.resolve(i.file)));
    const { written } = await predictDa3SceneJob(model, views, jobOpts, protectedPaths).catch((e: Error) => {
      // Camera arrays are checked against the views by the preprocessing: say which file they came from.
      if (opts.cameras && /^(extrinsics|intrinsics|known cameras)/.test(e.message)) e.message = `--cameras ${opts.cameras}: ${e.message}`;
      throw e;
    });
    const secs = (Date.now() - t0) / 1000;
    process.stderr.write(`scene of ${views.length} view${views.length === 1 ? '' : 's'} (${what}) -> ${written.join(', ')} (${secs.toFixed(2)} s)\n`);
    process.stderr.write(`done: 1 scene, ${views.length} views, ${secs.toFixed(1)} s; outputs in ${opts.outdir}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`FAILED scene (${what}): ${(e as Error).message}\n`);
    return 1;
  }
}
