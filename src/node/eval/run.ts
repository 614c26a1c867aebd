/**
 * The evaluation loop: each (image, ground truth) pair through a depth predictor, scored under a
 * protocol, and the mean over images. The predictor is anything with `predict` (the library's
 * `DepthAnything`, or a stand-in in tests).
 */
import { decodeImage, RgbImage } from '../image';
import { DepthMap, resizeBilinearAlignCorners } from '../../pipeline/postprocess';
import { DepthSample, cropMap, kbCropBox, readGroundTruth } from './datasets';
import { DepthMetrics, EvalError, meanMetrics } from '../../eval/metrics';
import { NotEnoughGroundTruth, ProtocolName, RangeAndCrop, evaluateImage } from '../../eval/protocols';

export interface DepthPredictor {
  /** True when `predict` returns metres; false for relative disparity. */
  readonly metric: boolean;
  /** `evaluation`: V1 metric (ZoeDepth) models run as evaluate.py (flip averaging, resize to img_size). */
  predict(image: RgbImage, opts: { inputSize?: number; evaluation?: boolean }): Promise<DepthMap>;
}

export interface EvalSettings extends RangeAndCrop {
  protocol: ProtocolName;
  /** Ground-truth PNG value per metre. */
  depthScale: number;
  kbCrop: boolean;
  inputSize: number;
  /** Images with fewer valid pixels are skipped (Depth Anything V2 metric_depth/train.py: 10). */
  minValidPixels: number;
}

export const DEFAULT_MIN_VALID_PIXELS = 10;

export interface ImageReport {
  name: string;
  image: string;
  depth: string;
  status: 'ok' | 'skipped' | 'failed';
  /** Size the metrics were computed at: the ground truth's (after the KB crop, if any). */
  width?: number;
  height?: number;
  validPixels?: number;
  /** The prediction (at the image's size) was resized to a differently sized ground truth. */
  resized?: boolean;
  metrics?: DepthMetrics;
  scale?: number;
  shift?: number;
  error?: string;
}

export interface ProtocolReport extends Omit<EvalSettings, 'protocol'> {
  name: ProtocolName;
  description: string;
  resize: string;
  averaging: string;
}

export interface EvalReport {
  protocol: ProtocolReport;
  counts: { images: number; evaluated: number; skipped: number; failed: number; resized: number };
  /** Mean of the per-image metrics over evaluated images; null when none was. */
  mean: DepthMetrics | null;
  images: ImageReport[];
}

export function describeProtocol(s: EvalSettings): ProtocolReport {
  const description = s.protocol === 'relative'
    ? `relative (zero-shot, MiDaS protocol): prediction taken as affine-invariant disparity, fitted to 1/GT by least-squares scale and shift over the valid pixels of each image, aligned disparity clamped below at 1/max_depth = ${1 / s.maxDepth}, inverted to depth`
    : `metric: prediction in metres compared directly, clamped to [${s.minDepth}, ${s.maxDepth}] m (NaN -> min, inf -> max) as ZoeDepth`;
  const { protocol, ...rest } = s;
  return {
    name: protocol,
    ...rest,
    description,
    resize: 'prediction resized to the ground truth size (bilinear, align_corners=True) where they differ',
    averaging: 'metrics per image over its valid pixels (min_depth < GT < max_depth, inside the crop), then the mean over evaluated images',
  };
}

function checkProtocol(model: DepthPredictor, s: EvalSettings): void {
  if (s.protocol === 'metric' && !model.metric) {
    throw new EvalError('the metric protocol needs a metric model (depth in metres); this model predicts relative disparity: use the relative protocol');
  }
}

/** One sample: read, crop, predict, resize, score. Throws on unreadable input. */
export async function evaluateSample(model: DepthPredictor, sample: DepthSample, s: EvalSettings): Promise<ImageReport> {
  checkProtocol(model, s);
  let gt = await readGroundTruth(sample.depth, s.depthScale);
  let image = await decodeImage(sample.image);
  if (s.kbCrop) {
    const ib = kbCropBox(image.width, image.height);
    if (ib) image = { data: cropMap(image.data, image.width, 3, ib), width: ib.width, height: ib.height };
    const gb = kbCropBox(gt.width, gt.height);
    if (gb) gt = { data: cropMap(gt.data, gt.width, 1, gb), width: gb.width, height: gb.height };
  }
  const depth = await model.predict(image, { inputSize: s.inputSize, evaluation: true });
  const resized = depth.width !== gt.width || depth.height !== gt.height;
  let pred: Float32Array = resized ? resizeBilinearAlignCorners(depth.data, depth.height, depth.width, gt.height, gt.width) : depth.data;
  if (s.protocol === 'relative' && model.metric) {
    // A metric model under the relative protocol: its depth as disparity, then the same fit.
    pred = pred.map((d) => 1 / Math.max(d, 1e-8));
  }
  const base = { name: sample.name, image: sample.image, depth: sample.depth, width: gt.width, height: gt.height, resized };
  try {
    const r = evaluateImage(pred, gt.data, gt.width, gt.height, s.protocol, s, s.minValidPixels);
    return { ...base, status: 'ok', validPixels: r.validPixels, metrics: r.metrics, scale: r.scale, shift: r.shift };
  } catch (e) {
    if (e instanceof NotEnoughGroundTruth) return { ...base, status: 'skipped', validPixels: e.validPixels, error: e.message };
    throw e;
  }
}

/**
 * Every sample in order; a sample that cannot be read or scored is reported as failed and the
 * run goes on. `onImage` sees each report as it is made (progress, per-image lines).
 */
export async function evaluateDataset(model: DepthPredictor, samples: readonly DepthSample[], s: EvalSettings,
  onImage?: (index: number, report: ImageReport) => void): Promise<EvalReport> {
  checkProtocol(model, s);
  const images: ImageReport[] = [];
  for (const [k, sample] of samples.entries()) {
    let report: ImageReport;
    try {
      report = await evaluateSample(model, sample, s);
    } catch (e) {
      report = { name: sample.name, image: sample.image, depth: sample.depth, status: 'failed', error: (e as Error).message };
    }
    images.push(report);
    onImage?.(k, report);
  }
  const ok = images.filter((r) => r.status === 'ok');
  return {
    protocol: describeProtocol(s),
    counts: {
      images: images.length,
      evaluated: ok.length,
      skipped: images.filter((r) => r.status === 'skipped').length,
      failed: images.filter((r) => r.status === 'failed').length,
      resized: images.filter((r) => r.resized).length,
    },
    mean: ok.length ? meanMetrics(ok.map((r) => r.metrics!)) : null,
    images,
  };
}
