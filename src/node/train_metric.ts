/**
 * Metric fine-tuning from files, as the official train.py: shuffled batches (drop_last), a random
 * crop per sample and a flip per batch from a seeded generator, SiLog, AdamW (encoder lr, head
 * 10x), the poly schedule; checkpoints written atomically as our safetensors (the configuration in
 * the metadata, so `predict --weights` and `eval --weights` load them). A non-finite loss stops the
 * run with the step named; the last checkpoint stays as it was.
 */
import { ModelConfig, configToJson } from '../config/depth';
import { METRIC_RECIPE, MetricRecipe } from '../config/train';
import { metricBatch, metricStep } from '../train/metric';
import { readParams } from '../train/params';
import { Rng, coin, permutation, sampleCrop, seededRng } from '../train/rng';
import { createTrainer, disposeTrainer } from '../train/trainer';
import { TrainDataError, metricSample } from '../train/transforms';
import { targetSize } from '../pipeline/preprocess';
import { StateDict } from '../weights/state_dict';
import { writeSafetensorsFile } from './safetensors_file';
import { listTrainSamples, readTrainSample } from './train_data';

export interface MetricTrainOptions {
  /** A file list ("IMAGE DEPTH" lines) or a folder (image/ + depth/). */
  data: string;
  weights: StateDict;
  config: ModelConfig;
  /** Where the result (and the checkpoints) go, .safetensors. */
  out: string;
  epochs: number;
  batch: number;
  recipe?: Partial<MetricRecipe>;
  /** 16-bit PNG value per metre (VKITTI2: 100, i.e. centimetres). */
  depthScale: number;
  seed: number;
  /** Write `out` every this many steps (and always at the end). */
  checkpointEvery?: number;
  onStep?: (m: StepMetrics) => void;
}

export interface StepMetrics {
  step: number;
  epoch: number;
  totalSteps: number;
  loss: number;
  lrs: [number, number];
  /** Seconds for this step (data, forward, backward, optimiser). */
  seconds: number;
}

export async function trainMetric(o: MetricTrainOptions): Promise<StepMetrics[]> {
  const recipe: MetricRecipe = { ...METRIC_RECIPE, ...o.recipe };
  if (o.config.maxDepth === undefined) throw new TrainDataError('metric fine-tuning needs a metric model (V2 metric: sigmoid x max_depth); this configuration is relative');
  const samples = await listTrainSamples(o.data);
  const perEpoch = Math.floor(samples.length / o.batch);
  if (perEpoch === 0) throw new TrainDataError(`${o.data}: ${samples.length} sample(s), fewer than one batch of ${o.batch}`);
  const totalSteps = o.epochs * perEpoch;
  const rng: Rng = seededRng(o.seed);
  const t = createTrainer(o.weights, o.config, { lr: recipe.lr, adamw: recipe.adamw, groups: recipe.groups, schedule: recipe.schedule, totalSteps });
  const metrics: StepMetrics[] = [];
  const metadata = () => ({ format: 'pt', config: JSON.stringify(configToJson(o.config)), trained: JSON.stringify({ recipe: 'metric', steps: t.step, seed: o.seed }) });
  try {
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      const order = permutation(rng, samples.length);
      for (let i = 0; i < perEpoch; i++) {
        const t0 = Date.now();
        const items = await Promise.all(order.slice(i * o.batch, (i + 1) * o.batch).map((k) => readTrainSample(samples[k], o.depthScale)));
        const batch = metricBatch(items.map((s, k) => {
          const { width, height } = targetSize(s.rgb.width, s.rgb.height, recipe.cropSize); // the size Crop sees
          const [top, left] = sampleCrop(rng, height, width, recipe.cropSize);
          return metricSample(s.rgb, s.depth, recipe.cropSize, top, left, recipe.validMaxDepth, samples[order[i * o.batch + k]].depth);
        }), coin(rng, recipe.flipP), recipe);
        const r = await metricStep(t, batch, recipe);
        const m: StepMetrics = { step: t.step, epoch, totalSteps, loss: r.loss, lrs: r.lrs, seconds: (Date.now() - t0) / 1000 };
        metrics.push(m);
        o.onStep?.(m);
        if (o.checkpointEvery && t.step % o.checkpointEvery === 0 && t.step < totalSteps) await writeSafetensorsFile(o.out, await readParams(t.params), metadata(), 'f32');
      }
    }
    await writeSafetensorsFile(o.out, await readParams(t.params), metadata(), 'f32');
  } finally {
    disposeTrainer(t);
  }
  return metrics;
}
