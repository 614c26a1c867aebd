/**
 * Semantic segmentation in one object:
 *
 *   const seg = await Segmenter.load('ade20k_vitl_mIoU_59.4.pth');
 *   const { labels, width, height, classes, palette } = await seg.segment('photo.jpg');
 *   seg.dispose();
 *
 * The official mmseg test pipeline: Resize(scale, keep_ratio) as cv2 does it, BGR -> RGB,
 * mean/std, whole or slide inference, logits resized back to the image's size, argmax. Every
 * call leaves tf.memory().numTensors as it was.
 */
import * as tf from '@tensorflow/tfjs-core';
import { BackendInfo, BackendName, backendForLoad } from '../backends/node';
import { ImageInput, RgbImage, loadImage } from './image';
import { SegConfig, SegMode, SegTestCfg, SegVariantName } from '../config/semseg';
import { SegInputError } from '../semseg/errors';
import { SegWeights, bindSegWeights, dataPreprocess, disposeSegWeights, inference, postprocess } from '../semseg/encoder_decoder';
import { SegMetainfo } from '../semseg/metainfo';
import { segPipeline } from '../semseg/preprocess';
import { loadSegWeightsFile } from './seg_weights';

export interface SegmenterLoadOptions {
  backend?: BackendName;
  threads?: number;
  /** A SegConfig, a variant name (`seg-ade20k`, `seg-cityscapes`) or a config JSON path. */
  config?: SegConfig | SegVariantName | string;
}

export interface SegmentOptions {
  /** Default: the config's test mode (the released models: slide, 896 crops). */
  mode?: SegMode;
  /** Slide crop side (square), a multiple of 14. */
  crop?: number;
  stride?: number;
  /** Also return the logits [K, H, W] at the image's size (float32, channel-major). */
  logits?: boolean;
  /** The test pipeline's Resize(scale, keep_ratio=True); null: none. Default: the config's. */
  resize?: [number, number] | null;
}

export interface Segmentation {
  /** Class index per pixel, row-major, at the image's size. */
  labels: Uint8Array | Uint16Array;
  width: number;
  height: number;
  /** [K, height, width] seg_logits (softmax x sigmoid mixtures, not probabilities) when asked. */
  logits?: Float32Array;
  classes: readonly string[];
  palette: SegMetainfo['palette'];
}

export class Segmenter {
  private weights: SegWeights | null;

  private constructor(weights: SegWeights, readonly config: SegConfig, readonly metainfo: SegMetainfo, readonly backend: BackendInfo, readonly source: string) {
    this.weights = weights;
  }

  static async load(file: string, opts: SegmenterLoadOptions = {}): Promise<Segmenter> {
    const backend = await backendForLoad(opts);
    const loaded = await loadSegWeightsFile(file, { config: opts.config });
    return new Segmenter(bindSegWeights(loaded.stateDict, loaded.config, file), loaded.config, loaded.metainfo, backend, file);
  }

  get classes(): readonly string[] { return this.metainfo.classes; }
  get palette(): SegMetainfo['palette'] { return this.metainfo.palette; }

  /** The test settings a call runs with, checked (crop a multiple of 14, stride positive). */
  testConfig(opts: SegmentOptions = {}): SegTestCfg {
    const base = this.config.test;
    const mode = opts.mode ?? base.mode;
    if (mode === 'whole') return { mode };
    const p = this.config.backbone.patchSize;
    const crop: [number, number] = opts.crop !== undefined ? [opts.crop, opts.crop] : base.crop ?? [896, 896];
    const stride: [number, number] = opts.stride !== undefined ? [opts.stride, opts.stride] : base.stride ?? [Math.floor(crop[0] / 2), Math.floor(crop[1] / 2)];
    if (crop.some((c) => !(Number.isInteger(c) && c > 0 && c % p === 0))) throw new SegInputError(`slide crop ${crop.join('x')} is not a positive multiple of the patch size ${p}`);
    if (stride.some((s) => !(Number.isInteger(s) && s > 0))) throw new SegInputError(`slide stride ${stride.join('x')} must be a positive integer`);
    return { mode, crop, stride };
  }

  private live(): SegWeights {
    if (!this.weights) throw new Error('Segmenter: this model was disposed');
    return this.weights;
  }

  async segment(image: ImageInput, opts: SegmentOptions = {}): Promise<Segmentation> {
    const w = this.live();
    const test = this.testConfig(opts);
    const img: RgbImage = await loadImage(image);
    const scale = opts.resize === null ? undefined : opts.resize ?? this.config.testResize;
    const input = segPipeline(img, scale);
    const src = typeof image === 'string' ? image : 'image';
    if (test.mode === 'slide') {
      const [ch, cw] = test.crop!;
      if (ch > input.height || cw > input.width) {
        throw new SegInputError(`${src}: slide crop ${ch}x${cw} is larger than the image (${input.width}x${input.height} after the test resize); use a smaller --crop or --mode whole`);
      }
    }
    // Whole mode needs sides that are multiples of 14: pad as the cityscapes _ms config does.
    const divisor = this.config.preprocess.sizeDivisor ?? (test.mode === 'whole' ? this.config.backbone.patchSize : undefined);
    const { seg, labels } = tf.tidy(() => {
      const bgr = tf.tensor4d(input.bgr, [1, input.height, input.width, 3], 'float32');
      const { inputs, padBottom, padRight } = dataPreprocess(bgr, this.config, undefined, divisor);
      const logits = inference(inputs, w, this.config, test);
      const out = postprocess(logits, padBottom, padRight, [input.oriHeight, input.oriWidth]);
      return { seg: opts.logits ? tf.transpose(out, [0, 3, 1, 2]) : tf.zeros([0]), labels: tf.argMax(out, 3) };
    });
    try {
      const K = this.config.head.numClasses;
      const raw = await labels.data();
      const lab = K <= 256 ? Uint8Array.from(raw) : Uint16Array.from(raw);
      const logits = opts.logits ? (await seg.data()) as Float32Array : undefined;
      return { labels: lab, width: img.width, height: img.height, ...(logits ? { logits } : {}), classes: this.classes, palette: this.palette };
    } finally {
      tf.dispose([seg, labels]);
    }
  }

  dispose(): void {
    if (this.weights) disposeSegWeights(this.weights);
    this.weights = null;
  }
}

