/**
 * mmseg `EncoderDecoder` at test time, with its `SegDataPreProcessor` and `postprocess_result`:
 * normalise (BGR -> RGB, (x - mean) / std), optionally pad right/bottom to a size divisor,
 * `whole` (one pass, the head upsampling to the padded shape) or `slide` (overlapping crops,
 * summed and divided by the overlap counts), then the padding cropped off and the logits resized
 * bilinearly (align_corners=False) to the original image size; labels are the argmax.
 */
import * as tf from '@tensorflow/tfjs-core';
import { DinoV2Weights } from '../dinov2/vision_transformer';
import { Tap } from '../nn/tap';
import { StateDict, StateDictReader } from '../weights/state_dict';
import { SegConfig, SegTestCfg } from '../config/semseg';
import { loadSegBackbone, segBackbone } from './dinov2';
import { MaskTap, Mask2FormerHeadWeights, loadMask2FormerHead, mask2formerPredict } from './mask2former_head';
import { Feature2PyramidWeights, feature2Pyramid, loadFeature2Pyramid } from './neck/feature2pyramid';
import { checkSegGpuLimits } from './limits';
import { SegInputError } from './errors';

export interface SegWeights {
  backbone: DinoV2Weights;
  neck: Feature2PyramidWeights;
  decodeHead: Mask2FormerHeadWeights;
}

/** Strict binding: one error lists every missing, mis-shaped and unexpected key. */
export function bindSegWeights(sd: StateDict, cfg: SegConfig, source: string): SegWeights {
  const reader = new StateDictReader(sd, source);
  return tf.tidy(() => {
    const w = {
      backbone: loadSegBackbone(reader, cfg.backbone),
      neck: loadFeature2Pyramid(reader, 'neck', cfg.neck.embedDim),
      decodeHead: loadMask2FormerHead(reader, cfg),
    };
    reader.finish([/\.num_batches_tracked$/]);
    return w as unknown as tf.TensorContainer;
  }) as unknown as SegWeights;
}

export function disposeSegWeights(w: SegWeights): void {
  tf.dispose(w as unknown as tf.TensorContainer);
}

/**
 * SegDataPreProcessor at test time on [B, H, W, 3] pixel values in the file's BGR order (0..255):
 * channel order, normalisation, then, where the test config has a size_divisor, `stack_batch`'s
 * zero padding to it, as the official preprocessor pads, so `data_preprocessor.inputs` is the
 * padded batch. `divisor`: the config's unless given (Segmenter pads whole-mode inputs to 14).
 */
export function dataPreprocess(bgr: tf.Tensor4D, cfg: SegConfig, tap?: Tap, divisor = cfg.preprocess.sizeDivisor): { inputs: tf.Tensor4D; padBottom: number; padRight: number } {
  const p = cfg.preprocess;
  const x = p.bgrToRgb ? tf.reverse(bgr, 3) : bgr;
  const normed = tf.div(tf.sub(tf.cast(x, 'float32'), tf.tensor1d(p.mean)), tf.tensor1d(p.std)) as tf.Tensor4D;
  const { padded, padBottom, padRight } = padToDivisor(normed, divisor);
  tap?.('data_preprocessor.inputs', padded);
  return { inputs: padded, padBottom, padRight };
}

/** `stack_batch` with size_divisor: zero padding (after normalisation) on the right and bottom. */
export function padToDivisor(x: tf.Tensor4D, divisor?: number): { padded: tf.Tensor4D; padBottom: number; padRight: number } {
  const [, H, W] = x.shape;
  if (!divisor || divisor <= 1) return { padded: x, padBottom: 0, padRight: 0 };
  const padBottom = Math.ceil(H / divisor) * divisor - H;
  const padRight = Math.ceil(W / divisor) * divisor - W;
  if (!padBottom && !padRight) return { padded: x, padBottom, padRight };
  return { padded: tf.pad(x, [[0, 0], [0, padBottom], [0, padRight], [0, 0]]), padBottom, padRight };
}

function checkPatchMultiple(H: number, W: number, cfg: SegConfig, what: string): void {
  const p = cfg.backbone.patchSize;
  if (H % p || W % p) {
    throw new SegInputError(`${what} ${H}x${W} is not a multiple of the patch size ${p} (DINOv2's patch embedding requires it); ` +
      'use --mode slide with a crop that is a multiple of 14, or a config that pads to a multiple of 14');
  }
}

/** `encode_decode`: backbone, neck, head.predict upsampled to `size`. NHWC [B, size..., K]. */
export function encodeDecode(x: tf.Tensor4D, w: SegWeights, cfg: SegConfig, size: [number, number], tap?: Tap, maskTap?: MaskTap): tf.Tensor4D {
  const feats = segBackbone(x, w.backbone, cfg.backbone, tap);
  const pyramid = feature2Pyramid(feats, w.neck, tap);
  return mask2formerPredict(pyramid, w.decodeHead, cfg, size, tap, maskTap);
}

export interface SlideBox { y1: number; y2: number; x1: number; x2: number }

/** The crop boxes of `slide_inference`, in its call order. */
export function slideBoxes(H: number, W: number, crop: [number, number], stride: [number, number]): SlideBox[] {
  const [hc, wc] = crop;
  const [hs, ws] = stride;
  const hGrids = Math.floor(Math.max(H - hc + hs - 1, 0) / hs) + 1;
  const wGrids = Math.floor(Math.max(W - wc + ws - 1, 0) / ws) + 1;
  const boxes: SlideBox[] = [];
  for (let hi = 0; hi < hGrids; hi++) {
    for (let wi = 0; wi < wGrids; wi++) {
      const y2 = Math.min(hi * hs + hc, H);
      const x2 = Math.min(wi * ws + wc, W);
      boxes.push({ y1: Math.max(y2 - hc, 0), y2, x1: Math.max(x2 - wc, 0), x2 });
    }
  }
  return boxes;
}

/**
 * `inference` on normalised (and padded) inputs [B, H, W, 3]: logits NHWC [B, H, W, K].
 * Each crop of the slide mode runs in its own scope, so only the running sums stay alive.
 */
export function inference(x: tf.Tensor4D, w: SegWeights, cfg: SegConfig, test: SegTestCfg, tap?: Tap, maskTap?: MaskTap): tf.Tensor4D {
  const [B, H, W] = x.shape;
  if (test.mode === 'whole') {
    checkPatchMultiple(H, W, cfg, 'the (padded) image');
    checkSegGpuLimits(cfg, test, H, W, B); // webgl/webgpu: fail clearly, not with zeros
    const out = encodeDecode(x, w, cfg, [H, W], tap, maskTap);
    tap?.('encode_decode', out);
    tap?.('inference', out);
    return out;
  }
  const crop = test.crop!;
  const stride = test.stride!;
  const boxes = slideBoxes(H, W, crop, stride);
  checkSegGpuLimits(cfg, test, H, W, B);
  const K = cfg.head.numClasses;
  let preds = tf.zeros([B, H, W, K]) as tf.Tensor4D;
  let count = tf.zeros([1, H, W, 1]) as tf.Tensor4D;
  boxes.forEach((b, i) => {
    const ch = b.y2 - b.y1;
    const cw = b.x2 - b.x1;
    checkPatchMultiple(ch, cw, cfg, `slide crop ${i} (rows ${b.y1}..${b.y2}, columns ${b.x1}..${b.x2}) of the ${H}x${W} image`);
    const prev = [preds, count];
    [preds, count] = tf.tidy(() => {
      const cropImg = tf.slice(x, [0, b.y1, b.x1, 0], [B, ch, cw, 3]);
      const logits = encodeDecode(cropImg, w, cfg, [ch, cw], undefined, maskTap ? (c, m, l) => maskTap(i * 1000 + c, m, l) : undefined);
      tap?.(i === 0 ? 'encode_decode' : `encode_decode#${i}`, logits);
      const pads: Array<[number, number]> = [[0, 0], [b.y1, H - b.y2], [b.x1, W - b.x2], [0, 0]];
      return [tf.add(preds, tf.pad(logits, pads)) as tf.Tensor4D, tf.add(count, tf.pad(tf.ones([1, ch, cw, 1]), pads)) as tf.Tensor4D];
    });
    tf.dispose(prev);
  });
  const out = tf.div(preds, count) as tf.Tensor4D;
  tf.dispose([preds, count]);
  tap?.('inference', out);
  return out;
}

/**
 * `postprocess_result` for one image: crop the padding, resize bilinearly (align_corners=False)
 * to the original size. [1, H, W, K] -> [1, H0, W0, K].
 */
export function postprocess(logits: tf.Tensor4D, padBottom: number, padRight: number, ori: [number, number]): tf.Tensor4D {
  const [, H, W, K] = logits.shape;
  const cropped = padBottom || padRight ? tf.slice(logits, [0, 0, 0, 0], [1, H - padBottom, W - padRight, K]) : logits;
  if (cropped.shape[1] === ori[0] && cropped.shape[2] === ori[1]) return cropped;
  return tf.image.resizeBilinear(cropped, ori, false, true);
}

/** argmax over classes (first maximum, as torch.argmax) and top1 - top2 (how decidable it is). */
export function argmaxWithGap(logits: tf.Tensor4D): { labels: tf.Tensor3D; gap: tf.Tensor3D } {
  const labels = tf.argMax(logits, 3) as tf.Tensor3D;
  const k = Math.min(2, logits.shape[3]);
  const { values } = tf.topk(logits, k);
  const gap = k < 2 ? tf.fill(labels.shape, Infinity) : tf.sub(tf.slice(values, [0, 0, 0, 0], [-1, -1, -1, 1]), tf.slice(values, [0, 0, 0, 1], [-1, -1, -1, 1]));
  return { labels, gap: tf.reshape(gap, labels.shape) as tf.Tensor3D };
}
