/**
 * `depth-anything train`: a thin shell over `train()` (src/node/train_run.ts): metric fine-tuning
 * as the official metric_depth/train.py (`--recipe metric`), the paper's self-training
 * (`--recipe self-training --unlabeled DIR --teacher FILE`), `--resume`; or `--replay CASE_DIR`,
 * which replays a training fixture case step by step and compares it with the PyTorch record.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { serializeSafetensors } from '../io/safetensors';
import { writeFileAtomic } from '../node/atomic';
import { loadWeightsFile } from '../node/weights_file';
import { TrainRecipeName, train } from '../node/train_run';
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
  checkpoint?: string;
  resume?: boolean;
  unlabeled?: string;
  teacher?: string;
  teacherConfig?: string;
  pth?: string | false;
  evalData?: string;
  evalDataset?: string;
  metrics?: string;
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
    .description('fine-tune a metric model as the official metric_depth/train.py, self-train a relative model as the Depth Anything paper, or replay a training fixture case against its PyTorch record')
    .option('--replay <case-dir>', 'replay a training fixture case (../shared/fixtures/train/NAME) and compare every recorded tensor')
    .option('--json', 'with --replay: print the comparison rows as JSON')
    .option('--dump <file>', 'with --replay: write what was computed under the fixture\'s keys (loss*, lr, grad.*, param.K.*, adam.1.*) as safetensors')
    .addOption(new Option('--recipe <name>', 'training recipe').choices(['metric', 'self-training']).default('metric'))
    .option('--data <list|dir>', 'labeled data: a file list of "IMAGE DEPTH" lines (VKITTI2 / Hypersim format) or a folder with image/ and depth/')
    .option('--unlabeled <dir>', 'self-training: a folder of unlabeled images (2 per labeled image in each batch)')
    .option('--teacher <file>', 'self-training: the teacher checkpoint (a relative model the library loads)')
    .option('--teacher-config <file>', 'self-training: the teacher\'s configuration (config.json), if its weights do not say')
    .option('--weights <file>', 'initial weights (any checkpoint the library loads): a V2 metric model for --recipe metric, a relative one for self-training (its encoder is also the frozen DINOv2)')
    .option('--config <file>', 'model configuration (config.json), if the weights do not say')
    .option('--out <file>', 'where the trained weights go (.safetensors, written atomically at the end)')
    .option('--pth <file>', 'the result as an official-format .pth state dict too (default: --out with .pth)')
    .option('--no-pth', 'do not write the .pth')
    .option('--epochs <n>', 'epochs', positiveInt('--epochs'), 1)
    .option('--batch <n>', 'batch size (incomplete last batches are dropped, as train.py)', positiveInt('--batch'), 4)
    .option('--crop <n>', 'square training crop, a multiple of 14', positiveInt('--crop'), 518)
    .option('--lr <x>', 'encoder learning rate (the head gets 10x); default 5e-6', positive('--lr'))
    .option('--min-depth <m>', 'depths below are left out of the loss (default 0.001)', positive('--min-depth'))
    .option('--max-depth <m>', 'depths above are left out of the loss (default: the model\'s max_depth)', positive('--max-depth'))
    .option('--depth-scale <n>', '16-bit PNG depth value per metre (VKITTI2: 100; .npy files are metres)', positive('--depth-scale'), 100)
    .option('--seed <n>', 'seed of the crops, flips and order', (v) => Number.parseInt(v, 10), 0)
    .option('--checkpoint-every <n>', 'write a training checkpoint (weights, AdamW state, generator, position) every N steps', positiveInt('--checkpoint-every'))
    .option('--checkpoint <file>', 'the training checkpoint file (default: --out with .checkpoint.safetensors)')
    .option('--resume', 'go on from the checkpoint, exactly where it was')
    .option('--eval-data <dir>', 'evaluate at the end of each epoch on this dataset (as the eval command)')
    .addOption(new Option('--eval-dataset <kind>', 'layout of --eval-data').choices(['folder', 'nyu', 'kitti']).default('folder'))
    .option('--metrics <file>', 'write the per-step and per-epoch metrics as JSON (default: --out with .metrics.json)')
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
      const recipe = opts.recipe as TrainRecipeName;
      const need = recipe === 'self-training' ? (['data', 'unlabeled', 'teacher', 'weights', 'out'] as const) : (['data', 'weights', 'out'] as const);
      const missing = need.filter((k) => !opts[k]);
      if (missing.length) cmd.error(`error: train --recipe ${recipe} needs ${missing.map((k) => `--${k}`).join(', ')} (or --replay CASE_DIR)`);
      const loaded = await loadWeightsFile(opts.weights!, opts.config ? { config: await readConfigFile(opts.config) } : {});
      if (!loaded.config) throw new Error(`${opts.weights}: ${loaded.configProblem ?? 'no model configuration'}`);
      let teacher;
      if (recipe === 'self-training') {
        const tl = await loadWeightsFile(opts.teacher!, opts.teacherConfig ? { config: await readConfigFile(opts.teacherConfig) } : {});
        if (!tl.config) throw new Error(`--teacher ${opts.teacher}: ${tl.configProblem ?? 'no model configuration'} (give --teacher-config)`);
        teacher = { stateDict: tl.stateDict, config: tl.config, source: opts.teacher! };
      }
      const cfg = loaded.config;
      const metricsFile = opts.metrics ?? opts.out!.replace(/(\.safetensors)?$/, '.metrics.json');
      // Ctrl-C stops between two steps, after writing the checkpoint (then --resume).
      const stop = new AbortController();
      const onSigint = () => { process.stderr.write('stopping after this step (a checkpoint, then --resume goes on)\n'); stop.abort(); };
      process.once('SIGINT', onSigint);
      const t0 = Date.now();
      const r = await train({
        signal: stop.signal,
        recipe, data: opts.data!, unlabeled: opts.unlabeled, teacher, weights: loaded.stateDict, config: cfg, out: opts.out!, pth: opts.pth,
        epochs: opts.epochs, batch: opts.batch, seed: opts.seed, depthScale: opts.depthScale,
        metric: { cropSize: opts.crop, ...(opts.lr ? { lr: opts.lr } : {}), ...(opts.minDepth ? { minDepth: opts.minDepth } : {}), ...(opts.maxDepth ? { maxDepth: opts.maxDepth } : {}) },
        selfTraining: { cropSize: opts.crop, ...(opts.lr ? { lr: opts.lr } : {}) },
        checkpoint: opts.checkpoint, checkpointEvery: opts.checkpointEvery, resume: opts.resume,
        evalData: opts.evalData, evalDataset: opts.evalDataset as 'folder' | 'nyu' | 'kitti', metricsFile,
        onStep: (m) => process.stderr.write(`step ${m.step}/${m.totalSteps} epoch ${m.epoch + 1}: loss ${m.loss.toFixed(5)}${m.parts ? ` (labeled ${m.parts.labeled.toFixed(4)}, unlabeled ${m.parts.unlabeled.toFixed(4)}, feat ${m.parts.feat.toFixed(4)})` : ''}, lr ${m.lrs[0].toExponential(2)} / ${m.lrs[1].toExponential(2)}, ${m.stepsPerSecond.toFixed(2)} steps/s\n`),
        onEpoch: (e) => process.stderr.write(`epoch ${e.epoch + 1} (step ${e.step})${e.eval ? `: eval (${e.eval.protocol}) on ${e.eval.counts.evaluated}/${e.eval.counts.images} image(s): ${e.eval.mean ? Object.entries(e.eval.mean).map(([k, v]) => `${k} ${(v as number).toFixed(4)}`).join(', ') : 'no image evaluated'}` : ''}\n`),
      }).finally(() => process.off('SIGINT', onSigint));
      const secs = (Date.now() - t0) / 1000;
      process.stderr.write(`${r.steps.length} steps in ${secs.toFixed(1)} s (${(r.steps.length / secs).toFixed(3)} steps/s); ${r.stopped ? 'stopped; ' : ''}wrote ${r.files.join(', ')}\n`);
    });
}
