/**
 * `depth-anything segment IMAGES... --weights W`: semantic segmentation with the Depth Anything
 * Mask2Former models (mmseg checkpoints or safetensors). Outputs per image: label PNG (class
 * index), colour PNG (dataset palette), overlay, logits .npy. Progress and failures as `predict`:
 * one image failing is reported and the batch goes on; the exit code is non-zero if any failed.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { BackendName } from '../backends/node';
import { segmentImageJob } from '../node/run_job';
import { SegMode } from '../config/semseg';
import { SEG_OUTPUT_FORMATS, SegOutputFormat } from '../node/seg_outputs';
import { Segmenter } from '../node/segmenter';
import { SegDataset } from '../config/semseg';
import { addIntersectAndUnion, emptyTotals, listSegSamples, readLabel, segMetrics } from '../semseg/eval';
import { backendOption, positiveInt, threadsOption } from './common';
import { expandInputs } from './predict';
import { progressReporter } from './download';
import { downloadModel } from '../node/hub';

interface SegmentCliOptions {
  weights?: string;
  model?: string;
  config?: string;
  outdir: string;
  mode?: SegMode;
  crop?: number;
  stride?: number;
  format: SegOutputFormat[];
  backend: string;
  threads?: number;
}

function parseSegFormats(value: string): SegOutputFormat[] {
  const list = value.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = list.filter((f) => !SEG_OUTPUT_FORMATS.includes(f as SegOutputFormat));
  if (bad.length || !list.length) throw new InvalidArgumentError(`unknown format ${bad.map((b) => `"${b}"`).join(', ') || '(empty)'}; choose from ${SEG_OUTPUT_FORMATS.join(', ')}`);
  return [...new Set(list as SegOutputFormat[])];
}

export function registerSegment(program: Command): void {
  registerSegmentEval(program);
  program
    .command('segment')
    .description('semantic segmentation (Depth Anything + Mask2Former, ADE20K / Cityscapes): label, colour and overlay PNGs, logits .npy')
    .argument('<inputs...>', 'image files, folders (searched recursively) or glob patterns (quote them)')
    .option('--weights <file>', 'segmentation weights: the released mmseg .pth (ade20k_vitl_mIoU_59.4.pth, cityscapes_vitl_mIoU_86.4.pth) or safetensors with mmseg keys')
    .option('--model <name>', 'a released model by name, downloaded once into the cache (seg-ade20k, seg-cityscapes), instead of --weights')
    .option('--config <file|variant>', 'configuration: seg-ade20k, seg-cityscapes, an mmseg model dict JSON or the fixtures\' config.json; default: from the weights')
    .option('--outdir <dir>', 'output folder', 'vis_seg')
    .addOption(new Option('--mode <mode>', 'inference mode (default: the config\'s; the released models use slide)').choices(['whole', 'slide']))
    .option('--crop <n>', 'slide crop side, a multiple of 14 (default: the config\'s, 896)', positiveInt('--crop'))
    .option('--stride <n>', 'slide stride (default: the config\'s, 426 ADE20K / 518 Cityscapes)', positiveInt('--stride'))
    .option('--format <list>', `comma-separated outputs: ${SEG_OUTPUT_FORMATS.join(', ')}`, parseSegFormats, ['labels', 'color'] as SegOutputFormat[])
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (args: string[], opts: SegmentCliOptions, cmd: Command) => {
      const { inputs, unmatched } = await expandInputs(args);
      for (const u of unmatched) process.stderr.write(`error: ${u}: no such file, or no image matches\n`);
      if (!inputs.length) cmd.error(`error: no images to process in ${args.join(', ')}`);
      if ((opts.weights === undefined) === (opts.model === undefined)) cmd.error('error: pass either --weights FILE or --model NAME');
      if (opts.model !== undefined && !opts.model.startsWith('seg-')) cmd.error(`error: --model ${opts.model} is a depth model; segmentation models: seg-ade20k, seg-cityscapes`);
      const weights = opts.weights ?? (await downloadModel(opts.model!, { onProgress: progressReporter(opts.model!) })).path;
      const model = await Segmenter.load(weights, { backend: opts.backend as BackendName, threads: opts.threads, config: opts.config });
      try {
        const test = model.testConfig({ mode: opts.mode, crop: opts.crop, stride: opts.stride });
        const c = model.config;
        process.stderr.write(`model: Mask2Former, DINOv2 width ${c.backbone.embedDim} x ${c.backbone.depth} blocks, ${c.head.numClasses} classes, ${c.head.numQueries} queries; ` +
          `${test.mode}${test.mode === 'slide' ? ` (crop ${test.crop!.join('x')}, stride ${test.stride!.join('x')})` : ''}; from ${weights}; backend: ${model.backend.description}\n`);
        await fs.mkdir(opts.outdir, { recursive: true });
        const protectedPaths = new Set(inputs.map((i) => path.resolve(i.file)));
        const stems = new Map<string, string>();
        let failed = unmatched.length;
        let ok = 0;
        const start = Date.now();
        for (const [k, input] of inputs.entries()) {
          const t0 = Date.now();
          try {
            const clash = stems.get(input.stem);
            if (clash !== undefined) throw new Error(`its outputs would have the same names as those of ${clash}`);
            stems.set(input.stem, input.file);
            const written = await segmentImageJob(model, input.file, input.stem, opts, protectedPaths);
            ok++;
            process.stderr.write(`[${k + 1}/${inputs.length}] ${input.file} -> ${written.join(', ')} (${((Date.now() - t0) / 1000).toFixed(2)} s)\n`);
          } catch (e) {
            failed++;
            const msg = (e as Error).message;
            process.stderr.write(`[${k + 1}/${inputs.length}] FAILED ${input.file}: ${msg.startsWith(`${input.file}: `) ? msg.slice(input.file.length + 2) : msg}\n`);
          }
        }
        process.stderr.write(`done: ${ok} written, ${failed} failed, ${((Date.now() - start) / 1000).toFixed(1)} s; outputs in ${opts.outdir}\n`);
        process.exitCode = failed ? 1 : 0;
      } finally {
        model.dispose();
      }
    });
}

interface SegEvalCliOptions {
  weights?: string;
  model?: string;
  config?: string;
  data: string;
  dataset: SegDataset;
  split?: string;
  maxImages?: number;
  mode?: SegMode;
  crop?: number;
  stride?: number;
  json?: boolean;
  backend: string;
  threads?: number;
}

/** `depth-anything segment-eval`: mIoU / mAcc / aAcc and per-class IoU as mmseg's IoUMetric. */
export function registerSegmentEval(program: Command): void {
  program
    .command('segment-eval')
    .description('evaluate a segmentation model on an ADE20K or Cityscapes folder: mIoU, mAcc, aAcc, per-class IoU (mmseg IoUMetric)')
    .option('--weights <file>', 'segmentation weights (.pth or safetensors)')
    .option('--model <name>', 'seg-ade20k or seg-cityscapes, downloaded once into the cache, instead of --weights')
    .option('--config <file|variant>', 'configuration (default: from the weights)')
    .requiredOption('--data <dir>', 'dataset root: ADE20K (images/validation, annotations/validation) or Cityscapes (leftImg8bit/val, gtFine/val)')
    .addOption(new Option('--dataset <name>', 'layout and label rules').choices(['ade20k', 'cityscapes']).makeOptionMandatory())
    .option('--split <name>', 'split folder (default: validation for ADE20K, val for Cityscapes)')
    .option('--max-images <n>', 'evaluate only the first N images (sorted)', positiveInt('--max-images'))
    .addOption(new Option('--mode <mode>', 'inference mode (default: the config\'s)').choices(['whole', 'slide']))
    .option('--crop <n>', 'slide crop side, a multiple of 14', positiveInt('--crop'))
    .option('--stride <n>', 'slide stride', positiveInt('--stride'))
    .option('--json', 'print one JSON object instead of the table')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (opts: SegEvalCliOptions, cmd: Command) => {
      if ((opts.weights === undefined) === (opts.model === undefined)) cmd.error('error: pass either --weights FILE or --model NAME');
      const weights = opts.weights ?? (await downloadModel(opts.model!, { onProgress: progressReporter(opts.model!) })).path;
      let samples = await listSegSamples(opts.dataset, opts.data, opts.split);
      if (opts.maxImages !== undefined) samples = samples.slice(0, opts.maxImages);
      const model = await Segmenter.load(weights, { backend: opts.backend as BackendName, threads: opts.threads, config: opts.config });
      try {
        const K = model.config.head.numClasses;
        const totals = emptyTotals(K);
        const t0 = Date.now();
        for (const [i, s] of samples.entries()) {
          const label = await readLabel(s.label, opts.dataset);
          const seg = await model.segment(s.image, { mode: opts.mode, crop: opts.crop, stride: opts.stride });
          if (seg.width !== label.width || seg.height !== label.height) throw new Error(`${s.label}: label is ${label.width}x${label.height} but the image ${seg.width}x${seg.height}`);
          addIntersectAndUnion(totals, seg.labels, label.data);
          if (!opts.json) process.stderr.write(`[${i + 1}/${samples.length}] ${s.image}\n`);
        }
        const m = segMetrics(totals);
        const perClass = model.classes.map((name, c) => ({ name, iou: m.iou[c], acc: m.acc[c] }));
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ images: samples.length, aAcc: m.aAcc, mIoU: m.mIoU, mAcc: m.mAcc, perClass })}\n`);
        } else {
          const f = (v: number) => (Number.isNaN(v) ? '  nan' : v.toFixed(2).padStart(6));
          for (const p of perClass) console.log(`${p.name.padEnd(20)} IoU ${f(p.iou)}  Acc ${f(p.acc)}`);
          console.log(`${samples.length} images, ${((Date.now() - t0) / 1000).toFixed(1)} s: aAcc ${f(m.aAcc)}  mIoU ${f(m.mIoU)}  mAcc ${f(m.mAcc)}`);
        }
      } finally {
        model.dispose();
      }
    });
}
