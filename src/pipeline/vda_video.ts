/**
 * Video Depth Anything's offline pipeline (`VideoDepthAnything.infer_video_depth`, video_depth.py)
 * taking frames one at a time and handing back each depth frame once nothing can change it, so a
 * video of any length holds about two windows: the pending window's inputs (22 or 32 frames at
 * the network size), the previous window's 10 keyframe inputs, and at most 40 depth maps at the
 * frame size (the window just aligned, before its frames are handed out).
 *
 * Per window k (frames 22k ...): slots 0..9 are the previous window's KEYFRAMES slots, slots
 * 10..31 frames 22k+10 .. 22k+31 (window 0: frames 0..31), the last frame repeated past the end;
 * the model on the 32 slots; each map bilinear (align_corners) to the frame size; window 0 taken as
 * it is, later windows fitted (least squares on slots 0, 1 against the reference maps, float32;
 * metric models: scale 1, shift 0), slots 2..9 blended with the last 8 frames, 10..31 appended.
 */
import { VDA_PIPELINE } from '../config/vda';
import { computeScaleAndShift, interpolateFrames, scaleShiftClamp } from './vda_align';
import { NetworkInput, PreprocessError, preprocess, roundHalfEven } from './preprocess';
import { DepthMap, resizeBilinearAlignCorners } from './postprocess';
import { ImageError, RgbImage, validateRgb } from './rgb';

const { inferLen: INFER_LEN, overlap: OVERLAP, keyframes: KEYFRAMES, interpLen: INTERP_LEN } = VDA_PIPELINE;
const STEP = INFER_LEN - OVERLAP;
const ALIGN_LEN = OVERLAP - INTERP_LEN;

/**
 * The input size `infer_video_depth` uses: frames wider (or taller) than 1.78:1 get a smaller one,
 * `round(int(input_size * 1.777 / ratio) / 14) * 14` (Python's round: half to even).
 */
export function vdaInputSize(width: number, height: number, inputSize: number): number {
  const ratio = Math.max(width, height) / Math.min(width, height);
  if (!(ratio > 1.78)) return inputSize;
  const size = roundHalfEven(Math.trunc((inputSize * 1.777) / ratio) / 14) * 14;
  if (size < 14) throw new PreprocessError(`a ${width}x${height} frame (aspect ${ratio.toFixed(2)}:1) leaves an input size of ${size} from ${inputSize} (the official rule for frames wider than 16:9): use a larger input size or crop the video`);
  return size;
}

/** One frame as the VDA pipelines feed it: `frame.astype(np.float32) / 255.0`, resize, normalise. */
export function vdaPreprocess(img: RgbImage, inputSize: number): NetworkInput {
  return preprocess(img, { inputSize, scale: 'float32' });
}

/** Runs the model on one window: 32 network inputs (NHWC) -> 32 depth maps at the network size. */
export type WindowRunner = (inputs: Float32Array[], height: number, width: number) => Promise<Float32Array[]>;

/** What a parity check records (the fixtures' `pipeline.safetensors`). */
export interface PipelineRecorder {
  input0?(input: NetworkInput): void;
  window?(k: number, frames: number[], outputs: Float32Array[], height: number, width: number): void;
  align?(k: number, scale: number, shift: number): void;
}

export interface VideoPipelineOptions {
  run: WindowRunner;
  /** Metric checkpoints: no scale/shift fit. */
  metric: boolean;
  /** `input_size` (default 518); wide frames get a smaller one (vdaInputSize). */
  inputSize?: number;
  record?: PipelineRecorder;
}

export class VideoPipelineError extends Error {
  constructor(message: string) { super(message); this.name = 'VideoPipelineError'; }
}

export class VideoDepthPipeline {
  private width = 0;
  private height = 0;
  private inputSize = 0;
  /** Frames received. */
  private n = 0;
  private window = 0;
  /** Inputs of the pending window's new slots, with their frame numbers. */
  private pending: Array<{ frame: number; input: Float32Array }> = [];
  private last?: { frame: number; input: Float32Array };
  /** The previous window's slots at KEYFRAMES. */
  private keyInputs: Array<{ frame: number; input: Float32Array }> = [];
  private netH = 0;
  private netW = 0;
  /** Aligned frames not yet handed out: frame `alignedFrom` first. */
  private aligned: Float32Array[] = [];
  private alignedFrom = 0;
  private emitted = 0;
  private ref: Float32Array[] = [];
  private finished = false;

  constructor(private readonly opts: VideoPipelineOptions) {}

  /** Adds the next frame; returns the depth frames completed by it (often none), in order. */
  async push(img: RgbImage): Promise<DepthMap[]> {
    if (this.finished) throw new VideoPipelineError('VideoDepthPipeline: push after finish');
    validateRgb(img, `frame ${this.n}`);
    if (this.n === 0) {
      this.width = img.width;
      this.height = img.height;
      this.inputSize = vdaInputSize(img.width, img.height, this.opts.inputSize ?? 518);
    } else if (img.width !== this.width || img.height !== this.height) {
      throw new ImageError(`frame ${this.n}`, `is ${img.width}x${img.height}, but the clip's first frame is ${this.width}x${this.height}: every frame of a video must have one size`);
    }
    const input = vdaPreprocess(img, this.inputSize);
    if (this.n === 0) {
      this.netH = input.height;
      this.netW = input.width;
      this.opts.record?.input0?.(input);
    }
    this.last = { frame: this.n, input: input.data };
    this.pending.push(this.last);
    this.n++;
    // Window k runs once its last new slot (frame 22k + 31) is here.
    if (this.n === this.window * STEP + INFER_LEN) return this.runWindow();
    return [];
  }

  /** The clip has ended: runs the windows still open (the last frame repeated), returns the remaining frames. */
  async finish(): Promise<DepthMap[]> {
    if (this.finished) return [];
    if (this.n === 0) throw new VideoPipelineError('VideoDepthPipeline: no frames (an empty clip)');
    const out: DepthMap[] = [];
    while (this.window * STEP < this.n) out.push(...(await this.runWindow()));
    this.finished = true;
    out.push(...this.take(this.n));
    this.aligned = [];
    this.ref = [];
    return out;
  }

  private async runWindow(): Promise<DepthMap[]> {
    const k = this.window++;
    const first = k === 0 ? 0 : OVERLAP;
    const slots = [...this.keyInputs];
    for (let i = first; i < INFER_LEN; i++) slots.push(this.pending[i - first] ?? this.last!);
    this.pending = [];
    this.keyInputs = KEYFRAMES.map((i) => slots[i]);
    const net = await this.opts.run(slots.map((s) => s.input), this.netH, this.netW);
    this.opts.record?.window?.(k, slots.map((s) => s.frame), net, this.netH, this.netW);
    const depth = net.map((d) => resizeBilinearAlignCorners(d, this.netH, this.netW, this.height, this.width));
    if (k === 0) {
      this.aligned = depth;
      this.ref = KEYFRAMES.slice(0, ALIGN_LEN).map((i) => depth[i]);
    } else {
      const { scale, shift } = this.opts.metric ? { scale: 1, shift: 0 } : computeScaleAndShift(concat(depth.slice(0, ALIGN_LEN)), concat(this.ref));
      this.opts.record?.align?.(k, scale, shift);
      const post = depth.slice(ALIGN_LEN, OVERLAP).map((d) => scaleShiftClamp(d, scale, shift));
      const pre = this.aligned.slice(-INTERP_LEN);
      this.aligned.splice(this.aligned.length - INTERP_LEN, INTERP_LEN, ...interpolateFrames(pre, post));
      for (let i = OVERLAP; i < INFER_LEN; i++) this.aligned.push(scaleShiftClamp(depth[i], scale, shift));
      this.ref = [this.ref[0], ...KEYFRAMES.slice(1, ALIGN_LEN).map((i) => scaleShiftClamp(depth[i], scale, shift))];
    }
    // Everything but the last INTERP_LEN frames is final (the next window blends those).
    return this.take(this.alignedFrom + this.aligned.length - INTERP_LEN);
  }

  /** Hands out the aligned frames before `end` (never past the clip) and forgets them. */
  private take(end: number): DepthMap[] {
    const upTo = Math.min(end, this.n);
    const out: DepthMap[] = [];
    while (this.emitted < upTo) {
      out.push({ data: this.aligned[this.emitted - this.alignedFrom], width: this.width, height: this.height, metric: this.opts.metric });
      this.emitted++;
    }
    // Keep the last INTERP_LEN aligned frames (the next window blends them), drop what was handed out before.
    const keepFrom = Math.min(this.emitted, this.alignedFrom + this.aligned.length - INTERP_LEN);
    const drop = Math.max(0, keepFrom - this.alignedFrom);
    this.aligned.splice(0, drop);
    this.alignedFrom += drop;
    return out;
  }
}

function concat(maps: Float32Array[]): Float32Array {
  const out = new Float32Array(maps.reduce((s, m) => s + m.length, 0));
  let o = 0;
  for (const m of maps) { out.set(m, o); o += m.length; }
  return out;
}
