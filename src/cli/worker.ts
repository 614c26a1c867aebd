/**
 * `depth-anything worker --redis URL --queue NAME --input-root DIR --output-root DIR (--weights FILE | --model NAME)`:
 * takes jobs from a BullMQ queue and runs them as `predict` / `segment` would (src/service/jobs.ts).
 * SIGTERM or SIGINT: no new job; the jobs in hand finish; exit 0. See docs/at-scale.md.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Command, Option } from 'commander';
import pino from 'pino';
import { BackendName } from '../backends/node';
import { DepthAnything } from '../node/depth_anything';
import { Segmenter } from '../node/segmenter';
import { downloadModel } from '../node/hub';
import { ServedModel } from '../service/http';
import { startWorker } from '../service/jobs';
import { backendOption, positiveInt, threadsOption } from './common';
import { progressReporter } from './download';

interface WorkerCliOptions {
  redis: string;
  queue: string;
  concurrency: number;
  inputRoot: string;
  outputRoot: string;
  weights?: string;
  model?: string;
  config?: string;
  task?: 'depth' | 'segment';
  lockDuration: number;
  stalledInterval: number;
  logLevel: string;
  name: string;
  backend: string;
  threads?: number;
}

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('take depth (or segmentation) jobs from a Redis queue (BullMQ) and write their outputs; docs/at-scale.md')
    .requiredOption('--redis <url>', 'Redis URL, e.g. redis://127.0.0.1:6379')
    .requiredOption('--queue <name>', 'queue name (one per model)')
    .requiredOption('--input-root <dir>', 'jobs may read inputs only under this folder (job data is untrusted)')
    .requiredOption('--output-root <dir>', 'jobs may write outputs only under this folder')
    .option('--concurrency <n>', 'jobs in hand at once (decoding and writing overlap the model)', positiveInt('--concurrency'), 1)
    .option('--weights <file>', 'weights: official .pth, Hugging Face or converted safetensors')
    .option('--model <name>', 'an official model by name, downloaded once into the cache')
    .option('--config <file|variant>', 'model configuration (default: from the weights)')
    .addOption(new Option('--task <task>', 'what the weights do (default: segment for seg-* models, else depth)').choices(['depth', 'segment']))
    .option('--lock-duration <ms>', 'a job\'s lock without renewal: how soon a killed worker\'s job goes back to the queue', positiveInt('--lock-duration'), 30_000)
    .option('--stalled-interval <ms>', 'how often workers look for jobs of dead workers', positiveInt('--stalled-interval'), 30_000)
    .option('--name <name>', 'this worker\'s name on the jobs it takes (default: host:pid)', `${os.hostname()}:${process.pid}`)
    .option('--log-level <level>', 'pino log level (stderr)', 'info')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (opts: WorkerCliOptions, cmd: Command) => {
      if ((opts.weights === undefined) === (opts.model === undefined)) cmd.error('error: pass either --weights FILE or --model NAME');
      for (const [flag, dir] of [['--input-root', opts.inputRoot], ['--output-root', opts.outputRoot]]) {
        if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) cmd.error(`error: ${flag} ${dir}: not a folder`);
      }
      const log = pino({ level: opts.logLevel, base: { worker: opts.name, queue: opts.queue } }, pino.destination(2));
      const task = opts.task ?? (opts.model?.startsWith('seg-') ? 'segment' : 'depth');
      const weights = opts.weights ?? (await downloadModel(opts.model!, { onProgress: progressReporter(opts.model!) })).path;
      const load = { backend: opts.backend as BackendName, threads: opts.threads, config: opts.config };
      const served: ServedModel = task === 'segment' ? { task, model: await Segmenter.load(weights, load) } : { task, model: await DepthAnything.load(weights, load) };
      const { worker, stop: stopWorker } = startWorker({
        redis: opts.redis, queue: opts.queue, concurrency: opts.concurrency, inputRoot: path.resolve(opts.inputRoot), outputRoot: path.resolve(opts.outputRoot),
        served, log, lockDuration: opts.lockDuration, stalledInterval: opts.stalledInterval, name: opts.name,
      });
      await worker.waitUntilReady().catch(() => undefined); // reconnects on its own if Redis is not up yet
      log.info({ weights, task, backend: served.model.backend.description, concurrency: opts.concurrency, inputRoot: opts.inputRoot, outputRoot: opts.outputRoot }, 'worker ready');
      await new Promise<void>((resolve) => {
        const stop = (signal: string): void => {
          log.info({ signal }, 'stopping: finishing the jobs in hand');
          void stopWorker().then(resolve, resolve);
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
      served.model.dispose();
      log.info('worker stopped');
      log.flush?.();
      process.exitCode = 0;
    });
}
