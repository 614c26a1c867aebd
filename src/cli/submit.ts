/**
 * `depth-anything submit --redis URL --queue NAME --outdir DIR [options] INPUTS...`: one job per
 * input (files, folders, globs, videos) with an id derived from the input and the options, so
 * submitting again adds nothing twice. `--wait` follows every job over all workers (a bar on a
 * terminal, lines otherwise) and exits 0 only if all succeeded. See docs/at-scale.md.
 */
import * as path from 'path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { COLORMAP_NAMES, ColormapName } from '../pipeline/colormap';
import { OUTPUT_FORMATS, OutputFormat } from '../node/outputs';
import { SEG_OUTPUT_FORMATS, SegOutputFormat } from '../node/seg_outputs';
import { SegMode } from '../config/semseg';
import { JobData, JobResult, jobId, openQueue } from '../service/jobs';
import { expandInputs, inputSizeArg } from './predict';
import { VideoCliOptions, addVideoOptions } from './video';
import { positiveInt } from './common';

interface SubmitCliOptions extends Omit<VideoCliOptions, 'format'> {
  redis: string;
  queue: string;
  task: 'depth' | 'segment';
  format?: string;
  predOnly?: boolean;
  mode?: SegMode;
  crop?: number;
  stride?: number;
  wait?: boolean;
}

function formatsFor(task: 'depth' | 'segment', value: string | undefined): string[] {
  const known: readonly string[] = task === 'depth' ? OUTPUT_FORMATS : SEG_OUTPUT_FORMATS;
  const list = (value ?? (task === 'depth' ? 'color' : 'labels,color')).split(',').map((s) => s.trim()).filter(Boolean);
  const bad = list.filter((f) => !known.includes(f));
  if (bad.length || !list.length) throw new InvalidArgumentError(`--format: unknown ${task} format ${bad.map((b) => `"${b}"`).join(', ') || '(empty)'}; choose from ${known.join(', ')}`);
  return [...new Set(list)];
}

export function registerSubmit(program: Command): void {
  const cmd = program
    .command('submit')
    .description('queue one job per input (images, folders, globs, videos) for `worker`s on Redis; --wait follows them to the end')
    .argument('<inputs...>', 'image or video files, folders (searched recursively) or glob patterns (quote them)')
    .requiredOption('--redis <url>', 'Redis URL, e.g. redis://127.0.0.1:6379')
    .requiredOption('--queue <name>', 'queue name (one per model)')
    .requiredOption('--outdir <dir>', 'output folder (on storage every worker mounts at the same path)')
    .addOption(new Option('--task <task>', 'depth (predict) or segment').choices(['depth', 'segment']).default('depth'))
    .option('--format <list>', `comma-separated outputs: depth ${OUTPUT_FORMATS.join(', ')} (default color); segment ${SEG_OUTPUT_FORMATS.join(', ')} (default labels,color)`)
    .option('--input-size <n>', 'network input lower bound, a multiple of 14', inputSizeArg, 518)
    .addOption(new Option('--colormap <name>', 'palette of the colour output').choices(COLORMAP_NAMES as string[]).default('spectral_r'))
    .option('--pred-only', 'colour output: the depth alone, not beside the input')
    .option('--grayscale', 'colour output without a palette')
    .addOption(new Option('--mode <mode>', 'segment: inference mode').choices(['whole', 'slide']))
    .option('--crop <n>', 'segment: slide crop side', positiveInt('--crop'))
    .option('--stride <n>', 'segment: slide stride', positiveInt('--stride'))
    .option('--wait', 'follow the jobs until each has completed or failed; exit 0 only if all completed');
  addVideoOptions(cmd).action(async (args: string[], opts: SubmitCliOptions, c: Command) => {
    let format: string[];
    try { format = formatsFor(opts.task, opts.format); } catch (e) { c.error(`error: ${(e as Error).message}`); }
    const { inputs, unmatched } = await expandInputs(args);
    for (const u of unmatched) process.stderr.write(`error: ${u}: no such file, or no image matches\n`);
    if (!inputs.length) c.error(`error: no inputs in ${args.join(', ')}`);
    const outdir = path.resolve(opts.outdir);
    const jobs: Array<{ id: string; data: JobData }> = inputs.map((i) => {
      const data: JobData = opts.task === 'depth'
        ? {
          task: 'depth', input: path.resolve(i.file), stem: i.stem,
          options: {
            outdir, inputSize: opts.inputSize, format: format as OutputFormat[], colormap: opts.colormap as ColormapName, predOnly: opts.predOnly, grayscale: opts.grayscale,
            normalize: opts.normalize, sideBySide: opts.sideBySide, maxFrames: opts.maxFrames, frameStep: opts.frameStep, start: opts.start, end: opts.end,
          },
        }
        : { task: 'segment', input: path.resolve(i.file), stem: i.stem, options: { outdir, format: format as SegOutputFormat[], mode: opts.mode, crop: opts.crop, stride: opts.stride } };
      return { id: jobId(data), data: JSON.parse(JSON.stringify(data)) as JobData };
    });
    const queue = openQueue(opts.redis, opts.queue);
    try {
      const existing = new Set<string>();
      for (let k = 0; k < jobs.length; k += 200) {
        const found = await Promise.all(jobs.slice(k, k + 200).map((j) => queue.getJob(j.id)));
        found.forEach((f, n) => { if (f) existing.add(jobs[k + n].id); });
      }
      const fresh = jobs.filter((j) => !existing.has(j.id));
      for (let k = 0; k < fresh.length; k += 500) await queue.addBulk(fresh.slice(k, k + 500).map((j) => ({ name: j.data.task, data: j.data, opts: { jobId: j.id } })));
      process.stderr.write(`submitted ${fresh.length} jobs to ${opts.queue}${existing.size ? ` (${existing.size} already queued or done: not added again)` : ''}\n`);
      if (!opts.wait) {
        process.exitCode = unmatched.length ? 1 : 0;
        return;
      }
      const failed = await waitFor(queue, jobs);
      process.exitCode = failed || unmatched.length ? 1 : 0;
    } finally {
      await queue.close();
    }
  });
}

/** Follows the jobs by polling their states (robust to missed events and Redis restarts); returns how many failed. */
async function waitFor(queue: ReturnType<typeof openQueue>, jobs: Array<{ id: string; data: JobData }>): Promise<number> {
  const tty = Boolean(process.stderr.isTTY);
  const bar = tty ? new SingleBar({ format: ' {bar} {value}/{total} jobs | {active} running | {failed} failed', stream: process.stderr, hideCursor: true }) : undefined;
  const say = (line: string) => process.stderr.write(`${bar ? '\r\x1b[2K' : ''}${line}\n`);
  const pending = new Map(jobs.map((j) => [j.id, j]));
  let done = 0, failed = 0;
  bar?.start(jobs.length, 0, { active: 0, failed: 0 });
  while (pending.size) {
    let active = 0;
    try {
      const ids = [...pending.keys()];
      for (let k = 0; k < ids.length; k += 200) {
        const states = await Promise.all(ids.slice(k, k + 200).map((id) => queue.getJobState(id)));
        for (const [n, state] of states.entries()) {
          const id = ids[k + n];
          const { data } = pending.get(id)!;
          if (state === 'active') active++;
          if (state !== 'completed' && state !== 'failed' && state !== 'unknown') continue;
          const job = await queue.getJob(id);
          pending.delete(id);
          done++;
          if (state === 'completed') {
            const r = job?.returnvalue as JobResult | undefined;
            say(`[${done}/${jobs.length}] ${data.input} -> ${r?.outputs?.join(', ') ?? '?'}${r ? ` (${r.seconds.toFixed(2)} s)` : ''}`);
          } else {
            failed++;
            const reason = state === 'unknown' ? 'the job is no longer in the queue (removed)' : job?.failedReason ?? 'unknown reason';
            say(`[${done}/${jobs.length}] FAILED ${data.input}: ${reason.startsWith(`${data.input}: `) ? reason.slice(data.input.length + 2) : reason}`);
          }
        }
      }
    } catch (e) {
      say(`waiting for Redis: ${(e as Error).message}`);
    }
    bar?.update(done, { active, failed });
    if (pending.size) await new Promise((r) => setTimeout(r, 500));
  }
  bar?.stop();
  process.stderr.write(`done: ${done - failed} completed, ${failed} failed\n`);
  return failed;
}
