/**
 * GPU limits for a segmentation pass, checked before it runs (as src/backends/limits.ts does for depth
 * passes): past webgpu's maxStorageBufferBindingSize a dispatch is dropped and reads as zeros, past
 * webgl's texture size tfjs throws deep inside a kernel. The largest tensors of one encode_decode
 * (the whole padded image, or one slide crop) follow from the configuration alone: the encoder's
 * (qkv, attention scores, MLP hidden), the neck's 4x map, the pixel decoder's deformable-attention
 * gather and 3x3 convolution (im2col on webgl), the head's mask logits, cross-attention scores
 * and predict()'s upsampled masks; slide mode adds the stitched logits of the whole image.
 */
import * as tf from '@tensorflow/tfjs-core';
import { encoderPassTensors } from '../dinov2/pass_tensors';
import { GpuLimits, LimitProblem, PassTensor, activeGpuLimits, describeWorst, tensorsPastLimits } from '../backends/limits';
import { SegConfig, SegTestCfg } from '../config/semseg';
import { SegInputError } from './errors';
import { GATHER_ROWS_PER_CHUNK } from './ops/multi_scale_deform_attn';
import { PREDICT_BAND_VALUES } from './mask2former_head';

/** tfjs-webgl's im2col convolutions (its default; the flag exists once the webgl backend is imported). */
function im2col(): boolean {
  try { return tf.env().getBool('WEBGL_CONV_IM2COL'); } catch { return true; }
}

/** The largest tensors of one encode_decode at H x W (a multiple of the patch size). */
export function segPassTensors(cfg: SegConfig, H: number, W: number, batch: number, backend: string): PassTensor[] {
  const B = batch;
  const bb = cfg.backbone;
  const h = H / bb.patchSize;
  const w = W / bb.patchSize;
  const hd = cfg.head;
  const F = hd.featChannels;
  const Q = hd.numQueries;
  const pd = hd.pixelDecoder;
  // The pixel decoder's levels are the neck's 1/2x, 1x, 2x maps; its output and the masks are 4x.
  const levels = [[Math.ceil(h / 2), Math.ceil(w / 2)], [h, w], [2 * h, 2 * w]].slice(0, pd.numLevels);
  const memory = levels.reduce((a, [y, x]) => a + y * x, 0);
  const d = F / pd.heads;
  const chunk = Math.max(1, Math.floor(GATHER_ROWS_PER_CHUNK / (B * pd.heads * pd.numPoints * 4 * pd.numLevels)));
  const gatherRows = B * pd.heads * Math.min(chunk, memory) * pd.numPoints * 4;
  const largestLevel = Math.max(...levels.map(([y, x]) => y * x));
  const upsampled = B * H * W * Q <= PREDICT_BAND_VALUES ? [B, H, W, Q] : [Math.max(1, Math.floor(PREDICT_BAND_VALUES / (B * W * Q))), W, Q];
  const list: PassTensor[] = [
    ...encoderPassTensors(bb, 'backbone.dinov2', H, W, B, backend),
    { name: 'neck.upsample_4x', shape: [B, 4 * h, 4 * w, cfg.neck.embedDim] },
    { name: 'decode_head.pixel_decoder.encoder.layers.*.ffn hidden', shape: [B, memory, pd.ffn] },
    { name: 'decode_head.pixel_decoder deformable-attention gather', shape: [gatherRows, d] },
    { name: 'decode_head.pixel_decoder.mask_feature', shape: [B, 4 * h, 4 * w, hd.outChannels] },
    { name: 'decode_head mask logits', shape: [B, 4 * h, 4 * w, Q] },
    { name: 'decode_head.transformer_decoder cross-attention scores', shape: [B, hd.decoder.heads, Q, largestLevel] },
    { name: 'decode_head.predict upsampled masks', shape: upsampled },
    { name: 'decode_head.predict', shape: [B, H, W, hd.numClasses] },
  ];
  if (backend === 'webgl' && im2col()) {
    list.push({ name: 'decode_head.pixel_decoder.output_convs.0 3x3 conv (im2col)', shape: [B, 9 * F, 16 * h * w], packed: true });
  }
  return list;
}

/**
 * Every tensor past `limits` of an inference on a (padded) H x W input: one pass at H x W in
 * whole mode; one pass per crop and the stitched [B, H, W, K] sums in slide mode.
 */
export function segLimitProblems(cfg: SegConfig, test: SegTestCfg, H: number, W: number, batch: number, limits: GpuLimits): LimitProblem[] {
  if (test.mode === 'whole') return tensorsPastLimits(segPassTensors(cfg, H, W, batch, limits.backend), limits);
  const [ch, cw] = test.crop!;
  return tensorsPastLimits([...segPassTensors(cfg, Math.min(ch, H), Math.min(cw, W), batch, limits.backend),
    { name: 'slide stitched logits', shape: [batch, H, W, cfg.head.numClasses] }], limits);
}

/** The largest square slide crop (a multiple of the patch size, at most the image) that fits. */
export function largestFittingCrop(cfg: SegConfig, H: number, W: number, batch: number, limits: GpuLimits): number | undefined {
  const p = cfg.backbone.patchSize;
  for (let c = Math.floor(Math.min(H, W) / p) * p; c >= p; c -= p) {
    const crop: [number, number] = [c, c];
    if (segLimitProblems(cfg, { mode: 'slide', crop, stride: crop }, H, W, batch, limits).length === 0) return c;
  }
  return undefined;
}


/**
 * Throws one line (SegInputError) when an inference at H x W would exceed the active GPU backend's
 * limits: the tensor, the limit, and the largest slide crop that fits. No-op on cpu/wasm/tensorflow.
 */
export function checkSegGpuLimits(cfg: SegConfig, test: SegTestCfg, H: number, W: number, batch = 1, given?: GpuLimits | null): void {
  // given: the limits to check against (null: none, as cpu/wasm); default: the active backend's.
  const limits = given === undefined ? activeGpuLimits() : given;
  if (!limits) return;
  const problems = segLimitProblems(cfg, test, H, W, batch, limits);
  if (problems.length === 0) return;
  const crop = largestFittingCrop(cfg, H, W, batch, limits);
  const what = test.mode === 'whole' ? `input ${H}x${W}` : `slide crop ${test.crop!.join('x')} on the ${H}x${W} input`;
  const stitched: PassTensor = { name: 'slide stitched logits', shape: [batch, H, W, cfg.head.numClasses] };
  const hint = crop ? `; --mode slide --crop ${crop} fits`
    : tensorsPastLimits([stitched], limits).length ? `; no slide crop fits: the stitched logits [${stitched.shape.join(', ')}] alone exceed it, so use a smaller image` : '';
  throw new SegInputError(`${what}${batch > 1 ? ` x${batch}` : ''} exceeds a ${limits.backend} limit: ${describeWorst(problems)}${hint} (or use --backend wasm)`);
}
