/**
 * `depth-anything train`: metric fine-tuning as the official metric_depth/train.py
 * (`--recipe metric --data LIST|DIR --weights FILE --out FILE`), or `--replay CASE_DIR`, which
 * replays a training fixture case step by step and compares it with the PyTorch record.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { serializeSafetensors } from '../io/safetensors';
import { writeFileAtomic } from '../node/atomic';
import { loadWeightsFile } from '../node/weights_file';
import { trainMetric } from '../node/train_metric';
import { replayTrainDir, summarizeReplay } from '../verify/train_replay';
import { backendOption, positiveInt, readConfigFile, startBackend, threadsOption } from './common';

interface TrainCliOptions {
  replay?: string;
  json?: boolean;
  dump?: string;
  recipe: string;
  data?: string;
  weights?: string;
  config?: string;
  out?: string;
  epochs: number;
  batch: number;
  crop: number;
  lr?: number;
  minDepth?: number;
  maxDepth?: number;
  depthScale: number;
  seed: number;
  checkpointEvery?: number;
  backend: string;
  threads?: number;
}

const positive = (flag: string) => (v: string): number => {
  const n = Number(v);
  if (!(Number.isFinite(n) && n > 0)) throw new InvalidArgumentError(`${flag} must be a positive number; got "${v}"`);
  return n;
};

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('fine-tune a metric model as the official metric_depth/train.py, or replay a training fixture case against its PyTorch record')
    .option('--replay <case-dir>', 'replay a training fixture case (../shared/fixtures/train/NAME) and compare every recorded tensor')
    .option('--json', 'with --replay: print the comparison rows as JSON')
    .option('--dump <file>', 'with --replay: write what was computed under the fixture\'s keys (loss*, lr, grad.*, param.K.*, adam.1.*) as safetensors')
    .addOption(new Option('--recipe <name>', 'training recipe').choices(['metric']).default('metric'))
    .option('--data <list|dir>', 'a file list of "IMAGE DEPTH" lines (VKITTI2 / Hypersim format) or a folder with image/ and depth/')
    .option('--weights <file>', 'initial weights (any checkpoint the library loads; a V2 metric model)')
    .option('--config <file>', 'model configuration (config.json), if the weights do not say')
    .option('--out <file>', 'where the fine-tuned weights go (.safetensors, written atomically; checkpoints too)')
    .option('--epochs <n>', 'epochs', positiveInt('--epochs'), 1)
    .option('--batch <n>', 'batch size (incomplete last batches are dropped, as train.py)', positiveInt('--batch'), 4)
    .option('--crop <n>', 'square training crop, a multiple of 14', positiveInt('--crop'), 518)
    .option('--lr <x>', 'encoder learning rate (the head gets 10x); default 5e-6', positive('--lr'))
    .option('--min-depth <m>', 'depths below are left out of the loss (default 0.001)', positive('--min-depth'))
    .option('--max-depth <m>', 'depths above are left out of the loss (default: the model\'s max_depth)', positive('--max-depth'))
    .option('--depth-scale <n>', '16-bit PNG depth value per metre (VKITTI2: 100; .npy files are metres)', positive('--depth-scale'), 100)
    .option('--seed <n>', 'seed of the crops, flips and order', (v) => Number.parseInt(v, 10), 0)
    .option('--checkpoint-every <n>', 'also write --out every N steps', positiveInt('--checkpoint-every'))
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (opts: TrainCliOptions, cmd: Command) => {
      await startBackend(opts.backend, opts.threads, opts.json);
      if (opts.replay) {
        const r = await replayTrainDir(opts.replay);
        if (opts.json) process.stdout.write(`${JSON.stringify({ case: r.case, backend: r.backend, losses: r.losses, rows: r.rows })}\n`);
        else console.log(summarizeReplay(r).join('\n'));
        if (opts.dump) {
          await writeFileAtomic(opts.dump, serializeSafetensors(r.computed, { case: r.case, backend: r.backend }));
          process.stderr.write(`wrote ${r.computed.length} tensors to ${opts.dump}\n`);
        }
        process.exitCode = r.rows.every((x) => x.ok) ? 0 : 1;
        return;
      }
      const missing = (['data', 'weights', 'out'] as const).filter((k) => !opts[k]);
      if (missing.length) cmd.error(`error: train --recipe metric needs ${missing.map((k) => `--${k}`).join(', ')} (or --replay CASE_DIR)`);
      const loaded = await loadWeightsFile(opts.weights!, opts.config ? { config: await readConfigFile(opts.config) } : {});
      if (!loaded.config) throw new Error(`${opts.weights}: ${loaded.configProblem ?? 'no model configuration'}`);
      const cfg = loaded.config;
      const t0 = Date.now();
      const metrics = await trainMetric({
        data: opts.data!, weights: loaded.stateDict, config: cfg, out: opts.out!, epochs: opts.epochs, batch: opts.batch,
        recipe: { cropSize: opts.crop, ...(opts.lr ? { lr: opts.lr } : {}), ...(opts.minDepth ? { minDepth: opts.minDepth } : {}), maxDepth: opts.maxDepth ?? cfg.maxDepth },
        depthScale: opts.depthScale, seed: opts.seed, checkpointEvery: opts.checkpointEvery,
        onStep: (m) => process.stderr.write(`step ${m.step}/${m.totalSteps} epoch ${m.epoch + 1}: loss ${m.loss.toFixed(5)}, lr ${m.lrs[0].toExponential(2)} / ${m.lrs[1].toExponential(2)}, ${(1 / m.seconds).toFixed(2)} steps/s\n`),
      });
      const secs = (Date.now() - t0) / 1000;
      process.stderr.write(`${metrics.length} steps in ${secs.toFixed(1)} s (${(metrics.length / secs).toFixed(3)} steps/s); wrote ${opts.out}\n`);
    });
}
