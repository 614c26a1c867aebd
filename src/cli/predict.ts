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
import { VideoDepthAnything, isVdaWeightsFile } from '../node/video_depth_anything';
import { checkInputSize } from '../pipeline/preprocess';
import { COLORMAP_NAMES } from '../pipeline/colormap';
import { DEFAULT_FOCAL, OUTPUT_FORMATS, OutputFormat } from '../node/outputs';
import { backendOption, threadsOption } from './common';
import { progressReporter } from './download';
import { downloadModel } from '../node/hub';
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
    .option('--model <name>', 'an official model by name, downloaded once into the cache (v2-small, v2-base, v2-large, v1-small, metric-indoor-small, ...), instead of --weights')
    .option('--config <file|variant>', 'model configuration: config.json (fixtures\' schema) or a variant name such as v2-vits; default: from the weights')
    .option('--outdir <dir>', 'output folder', 'vis_depth')
    .option('--input-size <n>', 'network input lower bound, a multiple of 14', inputSizeArg, 518)
    .option('--format <list>', `comma-separated outputs: ${OUTPUT_FORMATS.join(', ')}`, asArgument(parseFormats), ['color'] as OutputFormat[])
    .addOption(new Option('--colormap <name>', 'palette of the colour output').choices(COLORMAP_NAMES as string[]).default('spectral_r'))
    .option('--pred-only', 'colour output: the depth alone, not beside the input')
    .option('--grayscale', 'colour output without a palette (as --colormap grayscale)')
    .option('--focal-length-x <px>', 'point cloud: focal length in pixels along x', positiveNumber('--focal-length-x'), DEFAULT_FOCAL)
    .option('--focal-length-y <px>', 'point cloud: focal length in pixels along y', positiveNumber('--focal-length-y'), DEFAULT_FOCAL)
    .option('--no-pad', 'V1 metric models: no reflect-padding augmentation (official infer pads by default)')
    .option('--no-flip', 'V1 metric models: no horizontal-flip averaging (official infer flips by default)')
    .addOption(backendOption())
    .addOption(threadsOption());
  addVideoOptions(cmd)
    .action(async (args: string[], opts: PredictCliOptions, cmd: Command) => {
      const { inputs, unmatched } = await expandInputs(args);
      for (const u of unmatched) process.stderr.write(`error: ${u}: no such file, or no image matches\n`);
      if (!inputs.length) cmd.error(`error: no images to process in ${args.join(', ')}`);

      if ((opts.weights === undefined) === (opts.model === undefined)) cmd.error('error: pass either --weights FILE or --model NAME');
      const weights = opts.weights ?? (await downloadModel(opts.model!, { onProgress: progressReporter(opts.model!) })).path;
      // Video Depth Anything weights: the temporal pipelines (src/node/video_depth_anything.ts).
      const vda = await isVdaWeightsFile(weights);
      const model = vda
        ? await VideoDepthAnything.load(weights, { backend: opts.backend as BackendName, threads: opts.threads, config: opts.config })
        : await DepthAnything.load(weights, { backend: opts.backend as BackendName, threads: opts.threads, config: opts.config });
      try {
        if (model instanceof VideoDepthAnything) {
          const m = model.config.model;
          process.stderr.write(`model: Video Depth Anything ${m.encoder} (width ${m.embedDim}, ${m.depth} blocks) ${model.metric ? 'metric' : 'relative'}, ${opts.streaming ? 'streaming' : 'offline windows of 32'}, from ${weights}; backend: ${model.backend.description}\n`);
        } else {
          if (opts.streaming) cmd.error('error: --streaming is for Video Depth Anything weights');
          process.stderr.write(`model: ${model.config.version} ${model.config.encoder} (width ${model.config.embedDim}, ${model.config.depth} blocks) ${depthKind(model.config)}${model.weightsPrecision === 'q8' ? ', 8-bit weights (q8, dequantised at load)' : ''} from ${weights}; backend: ${model.backend.description}\n`);
        }
        if (opts.format.includes('ply') && !model.metric) {
          cmd.error('error: --format ply needs a metric model (depth in metres); this model predicts relative depth');
        }
        await fs.mkdir(opts.outdir, { recursive: true });
        const protectedPaths = new Set(inputs.map((i) => path.resolve(i.file)));
        // Two inputs with one output name (a.jpg and a.png) would overwrite each other: the later one fails.
        const stems = new Map<string, string>();

        const tty = stderrIsTTY();
        const isVideo = await Promise.all(inputs.map((i) => isVideoInput(i.file)));
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
            const { written, note } = isVideo[k]
              ? await predictVideoInput(model, input.file, input.stem, opts, protectedPaths, tty)
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
