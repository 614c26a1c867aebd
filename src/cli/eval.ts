/**
 * `depth-anything eval --weights W --data DIR [--dataset nyu|kitti|folder]`: scores a model on a
 * dataset folder under the standard protocols (zero-shot affine alignment for relative models,
 * direct comparison for metric ones) and prints per-image and mean metrics, or a JSON report.
 */
import { constants as fsConstants, promises as fs } from 'fs';
import * as path from 'path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { BackendName } from '../backends/node';
import { depthKind } from '../config/depth';
import { writeFileAtomic } from '../node/atomic';
import { DepthAnything } from '../node/depth_anything';
import { DATASET_KINDS, DATASET_PRESETS, DatasetKind, listSamples } from '../node/eval/datasets';
import { METRIC_NAMES } from '../eval/metrics';
import { CROP_NAMES, CropName, ProtocolName } from '../eval/protocols';
import { DEFAULT_MIN_VALID_PIXELS, EvalReport, EvalSettings, ImageReport, evaluateDataset } from '../node/eval/run';
import { inputSizeArg } from './predict';
import { backendOption, threadsOption } from './common';
import { stderrIsTTY } from './tty';

interface EvalCliOptions {
  weights: string;
  config?: string;
  data: string;
  dataset: DatasetKind;
  split?: string;
  gtDir?: string;
  maxImages?: number;
  inputSize: number;
  protocol: 'auto' | ProtocolName;
  minDepth?: number;
  maxDepth?: number;
  crop?: CropName;
  depthScale?: number;
  kbCrop: boolean;
  json?: boolean;
  report?: string;
  backend: string;
  threads?: number;
}

const positive = (name: string, integer = false) => (v: string): number => {
  const n = Number(v);
  if (!(Number.isFinite(n) && n > 0 && (!integer || Number.isInteger(n)))) {
    throw new InvalidArgumentError(`${name} must be a positive ${integer ? 'integer' : 'number'}, got "${v}"`);
  }
  return n;
};

const fmt = (v: number) => v.toFixed(4);

function metricLine(r: ImageReport): string {
  if (r.status !== 'ok') return `${r.status.toUpperCase()}: ${r.error}`;
  const m = r.metrics!;
  return `abs_rel ${fmt(m.abs_rel)} rmse ${fmt(m.rmse)} delta1 ${fmt(m.delta1)} (${r.validPixels} px${r.resized ? ', prediction resized to GT' : ''})`;
}

/** The summary table: metric names over their means. */
export function formatSummary(report: EvalReport): string {
  const p = report.protocol;
  const c = report.counts;
  const lines = [
    `protocol: ${p.description}`,
    `ground truth: ${p.minDepth} < depth < ${p.maxDepth} m, crop ${p.crop}${p.kbCrop ? ', KITTI benchmark crop 352x1216' : ''}, PNG value / ${p.depthScale} = metres; input size ${p.inputSize}`,
    `images: ${c.evaluated} evaluated, ${c.skipped} skipped (< ${p.minValidPixels} valid pixels), ${c.failed} failed${c.resized ? `; ${c.resized} predictions resized to the ground truth's size` : ''}`,
  ];
  if (report.mean) {
    lines.push(METRIC_NAMES.map((k) => k.padStart(9)).join(' '));
    lines.push(METRIC_NAMES.map((k) => fmt(report.mean![k]).padStart(9)).join(' '));
  } else {
    lines.push('no image could be evaluated');
  }
  return lines.join('\n') + '\n';
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('evaluate depth against ground truth: AbsRel, SqRel, RMSE, RMSE log, log10, delta1-3 (zero-shot alignment for relative models)')
    .requiredOption('--weights <file>', 'weights: official .pth, Hugging Face safetensors, or converted safetensors')
    .option('--config <file|variant>', 'model configuration: config.json or a variant name such as v2-vits; default: from the weights')
    .requiredOption('--data <dir>', 'dataset folder')
    .addOption(new Option('--dataset <kind>', 'dataset layout and defaults (range, crop, depth scale)').choices(DATASET_KINDS as string[]).default('folder'))
    .option('--split <file>', 'split file of "image depth [focal]" lines (BTS / ZoeDepth *_test_files_with_gt.txt), relative to --data')
    .option('--gt-dir <dir>', 'where ground-truth paths start, if not in --data (KITTI annotated depth)')
    .option('--max-images <n>', 'evaluate only the first N pairs', positive('--max-images', true))
    .option('--input-size <n>', 'network input lower bound, a multiple of 14', inputSizeArg, 518)
    .addOption(new Option('--protocol <name>', 'relative: least-squares scale and shift in disparity; metric: compare metres directly; auto: from the model').choices(['auto', 'relative', 'metric']).default('auto'))
    .option('--min-depth <m>', 'ground truth must be above this (default: per dataset)', positive('--min-depth'))
    .option('--max-depth <m>', 'ground truth must be below this; also the relative protocol\'s depth cap (default: per dataset)', positive('--max-depth'))
    .addOption(new Option('--crop <name>', 'evaluation crop (default: per dataset)').choices(CROP_NAMES as string[]))
    .option('--depth-scale <n>', 'ground-truth PNG value per metre (default: nyu/folder 1000, kitti 256)', positive('--depth-scale'))
    .option('--no-kb-crop', 'kitti: do not crop image and ground truth to the 352x1216 benchmark window')
    .option('--json', 'print the JSON report on stdout (the summary goes to stderr)')
    .option('--report <file>', 'also write the JSON report to this file')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (opts: EvalCliOptions, cmd: Command) => {
      const preset = DATASET_PRESETS[opts.dataset];
      const range = {
        minDepth: opts.minDepth ?? preset.minDepth,
        maxDepth: opts.maxDepth ?? preset.maxDepth,
        crop: opts.crop ?? preset.crop,
      };
      if (range.minDepth >= range.maxDepth) cmd.error(`error: --min-depth ${range.minDepth} must be below --max-depth ${range.maxDepth}`);
      // Checked before hours of evaluation, not after.
      if (opts.report) {
        const folder = path.dirname(path.resolve(opts.report));
        await fs.access(folder, fsConstants.W_OK).catch((e: NodeJS.ErrnoException) => {
          cmd.error(`error: cannot write the report ${opts.report}: folder ${folder} ${e.code === 'ENOENT' ? 'does not exist' : `is not writable (${e.code})`}`);
        });
      }
      let samples = await listSamples(opts.dataset, opts.data, { split: opts.split, gtDir: opts.gtDir });
      if (opts.maxImages !== undefined) samples = samples.slice(0, opts.maxImages);

      const model = await DepthAnything.load(opts.weights, { backend: opts.backend as BackendName, threads: opts.threads, config: opts.config });
      try {
        const settings: EvalSettings = {
          protocol: opts.protocol === 'auto' ? (model.metric ? 'metric' : 'relative') : opts.protocol,
          ...range,
          depthScale: opts.depthScale ?? preset.depthScale,
          kbCrop: preset.kbCrop && opts.kbCrop,
          inputSize: opts.inputSize,
          minValidPixels: DEFAULT_MIN_VALID_PIXELS,
        };
        if (settings.protocol === 'metric' && !model.metric) {
          cmd.error('error: --protocol metric needs a metric model (depth in metres); this model predicts relative disparity (use --protocol relative or auto)');
        }
        process.stderr.write(`model: ${model.config.version} ${model.config.encoder} ${depthKind(model.config)} from ${opts.weights}; backend: ${model.backend.description}\n`);
        process.stderr.write(`dataset: ${opts.dataset}, ${samples.length} image(s) in ${opts.data}${opts.split ? ` (split ${opts.split})` : ''}\n`);

        const bar = stderrIsTTY()
          ? new SingleBar({ format: ' {bar} {value}/{total} | abs_rel {absRel} | {file}', stream: process.stderr, clearOnComplete: true, hideCursor: true })
          : undefined;
        bar?.start(samples.length, 0, { file: '', absRel: '-' });
        const say = (line: string) => process.stderr.write(`${bar ? '\r\x1b[2K' : ''}${line}\n`);
        let sumAbsRel = 0, ok = 0;
        const report = await evaluateDataset(model, samples, settings, (k, r) => {
          if (r.status === 'ok') { sumAbsRel += r.metrics!.abs_rel; ok++; }
          say(`[${k + 1}/${samples.length}] ${r.name}: ${metricLine(r)}`);
          bar?.update(k + 1, { file: r.name, absRel: ok ? fmt(sumAbsRel / ok) : '-' });
        });
        bar?.stop();

        const full = {
          weights: path.resolve(opts.weights),
          model: { version: model.config.version, encoder: model.config.encoder, metric: model.metric, maxDepth: model.config.maxDepth ?? null },
          dataset: { kind: opts.dataset, dir: path.resolve(opts.data), split: opts.split ? path.resolve(opts.split) : null, gtDir: opts.gtDir ? path.resolve(opts.gtDir) : null },
          ...report,
        };
        const json = JSON.stringify(full, null, 2) + '\n';
        if (opts.report) await writeFileAtomic(opts.report, json);
        const summary = formatSummary(report);
        if (opts.json) {
          process.stderr.write(summary);
          process.stdout.write(json);
        } else {
          process.stdout.write(summary);
        }
        process.exitCode = report.counts.failed || !report.mean ? 1 : 0;
      } finally {
        model.dispose();
      }
    });
}
