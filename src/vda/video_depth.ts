/**
 * `video_depth.py` VideoDepthAnything as a network: `pretrained` (DINOv2, src/dinov2 as for V2) and
 * `head` (DPTHeadTemporal), bound strictly from the released state dicts
 * (`video_depth_anything_{vits,vitb,vitl}.pth`, `metric_video_depth_anything_*.pth`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { VdaConfig } from '../config/vda';
import { checkInput, wasmGuard } from '../depth/depth_anything';
import { DinoV2Weights, IntermediateLayer, getIntermediateLayers, loadDinoV2 } from '../dinov2/vision_transformer';
import { Tap } from '../nn/tap';
import { checkWasmWeights } from '../backends/wasm_memory';
import { PassTensor, bandRows } from '../backends/limits';
import { StateDict, StateDictReader } from '../weights/state_dict';
import { DptHeadTemporalWeights, TemporalStates, dptHeadTemporal, loadDptHeadTemporal } from './dpt_temporal';

export interface VdaWeights {
  pretrained: DinoV2Weights;
  head: DptHeadTemporalWeights;
}

/** In every checkpoint, never read: DINOv2's mask_token; refinenet4's resConfUnit1 (no skip input). */
export const VDA_IGNORED_KEYS: readonly RegExp[] = [
  /^pretrained\.mask_token$/,
  /^head\.scratch\.refinenet4\.resConfUnit1\./,
  /\.num_batches_tracked$/,
];

/** Strict binding: one WeightsError lists every missing, mis-shaped and unexpected key. */
export function bindVdaWeights(sd: StateDict, cfg: VdaConfig, source: string): VdaWeights {
  checkWasmWeights(sd, source);
  const reader = new StateDictReader(sd, source);
  return wasmGuard(`binding ${source}`, () => tf.tidy(() => {
    const w: VdaWeights = { pretrained: loadDinoV2(reader, 'pretrained', cfg.model), head: loadDptHeadTemporal(reader, 'head', cfg) };
    reader.finish(VDA_IGNORED_KEYS);
    return w as unknown as tf.TensorContainer;
  }) as unknown as VdaWeights);
}

export function disposeVdaWeights(w: VdaWeights): void {
  tf.dispose(w as unknown as tf.TensorContainer);
}

/**
 * Frames the encoder takes at once at most (unless recording taps). The official code runs a
 * window's 32 frames in one batch; each frame's tokens are its own, so a few at a time compute the
 * same, and a 32-frame window at 518 (32 x 2000 tokens: MLP layers of 400 MB each) stays well
 * inside wasm's 4 GiB heap, which it otherwise filled (the pass then stalled in the allocator).
 */
export const ENCODER_FRAMES = 4;

/**
 * What the encoder holds for `frames` frames of `tokens` tokens, for src/backends/limits.ts
 * bandRows: a piece's intermediates live until it ends, about 80 token maps of the embedding
 * width over its 12 blocks (measured with tf.profile: 72 MiB for 4 frames of 145 tokens of ViT-S).
 */
export function encoderPieceTensors(frames: number, tokens: number, C: number): PassTensor[] {
  return [{ name: 'pretrained (a piece of frames: its intermediates, about 80 token maps)', shape: [80, frames * tokens, C] }];
}

/** `forward_features`: the encoder on every frame of x [N, H, W, 3] (NHWC, normalised). */
export function vdaFeatures(w: VdaWeights, cfg: VdaConfig, x: tf.Tensor4D, tap?: Tap): IntermediateLayer[] {
  checkInput(x, cfg.model);
  const [N, H, W] = x.shape;
  const p = cfg.model.patchSize;
  const tokens = 1 + Math.floor(H / p) * Math.floor(W / p);
  const piece = tap ? N : bandRows((n) => encoderPieceTensors(n, tokens, cfg.model.embedDim), Math.min(N, ENCODER_FRAMES));
  if (piece >= N) return getIntermediateLayers(x, w.pretrained, cfg.model, tap);
  const parts: IntermediateLayer[][] = [];
  for (let i = 0; i < N; i += piece) {
    const n = Math.min(piece, N - i);
    parts.push(tf.tidy(() => getIntermediateLayers(tf.slice(x, [i, 0, 0, 0], [n, -1, -1, -1]), w.pretrained, cfg.model) as unknown as tf.TensorContainer) as unknown as IntermediateLayer[]);
  }
  // Joined level by level, each level's pieces freed at once (not two copies of all four).
  return parts[0].map((_, k) => {
    const layer = { patch: tf.concat(parts.map((p) => p[k].patch), 0) as tf.Tensor3D, cls: tf.concat(parts.map((p) => p[k].cls), 0) as tf.Tensor2D };
    tf.dispose(parts.map((p) => [p[k].patch, p[k].cls]));
    return layer;
  });
}

/**
 * `forward_depth`: the head on the features of B clips of T frames ([B*T] first) -> depth
 * [B, T, H, W] (ReLU'd) and the new frames' temporal states; `cached` for streaming. Unless
 * recording, `layers` are disposed as the head consumes them; `keepStates` false: no states.
 */
export function vdaDepth(w: VdaWeights, cfg: VdaConfig, layers: IntermediateLayer[], T: number, H: number, W: number, cached?: TemporalStates, tap?: Tap, keepStates = true): { depth: tf.Tensor4D; states: TemporalStates } {
  const p = cfg.model.patchSize;
  const patchH = Math.floor(H / p);
  const patchW = Math.floor(W / p);
  const { depth, states } = dptHeadTemporal(layers, patchH, patchW, T, w.head, cached, tap, keepStates);
  const BT = depth.shape[0];
  // F.interpolate to (H, W) with align_corners: the identity, as H, W are 14 x the patch grid.
  const out = tf.reshape(tf.relu(depth), [BT / T, T, H, W]) as tf.Tensor4D;
  tap?.('depth', out);
  return { depth: out, states };
}

/** `model(x)`: B clips of T frames, x [B*T, H, W, 3] NHWC normalised -> depth [B, T, H, W]. */
export function vdaForward(w: VdaWeights, cfg: VdaConfig, x: tf.Tensor4D, T: number, tap?: Tap): tf.Tensor4D {
  checkInput(x, cfg.model);
  const [N, H, W] = x.shape;
  if (T < 1 || N % T !== 0) throw new Error(`VDA forward: ${N} frames are not clips of ${T}`);
  if (T > cfg.temporal.maxLen) throw new Error(`VDA forward: ${T} frames per clip, but the temporal position table has ${cfg.temporal.maxLen}`);
  return wasmGuard(`running ${N} frames of ${H}x${W}`, () => tf.tidy(() => {
    const layers = vdaFeatures(w, cfg, x, tap);
    const { depth, states } = vdaDepth(w, cfg, layers, T, H, W, undefined, tap, !!tap);
    tf.dispose(states);
    return depth;
  }));
}
