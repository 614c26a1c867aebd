/**
 * One Video Depth Anything model, bound and ready, with no platform in it: the offline pipeline
 * (`videoPipeline`: frames in, depth frames out as they complete) and the streaming mode
 * (`streamFrame`). Every call leaves tf.memory().numTensors as it was, but for the streaming
 * cache, which `resetStream` and `dispose` free.
 */
import * as tf from '@tensorflow/tfjs-core';
import { VdaConfig } from '../config/vda';
import { wasmGuard } from '../depth/depth_anything';
import { tensorBytes } from '../backends/wasm_memory';
import { checkVdaWindow } from '../vda/limits';
import { VdaWeights, bindVdaWeights, disposeVdaWeights, vdaForward } from '../vda/video_depth';
import { StateDict } from '../weights/state_dict';
import { DepthMap } from './postprocess';
import { RgbImage } from './rgb';
import { PipelineRecorder, VideoDepthPipeline, WindowRunner } from './vda_video';
import { StreamFrameOptions, VdaStream } from './vda_stream';

export interface VdaOptions {
  /** `input_size` of the official pipelines (default 518; frames wider than 16:9 get less). */
  inputSize?: number;
}

export class VdaSession {
  private weights: VdaWeights | null;
  private stream: VdaStream | null = null;
  private streamInputSize = 518;

  /** Bytes of the bound weights (the window check counts them twice on wasm). */
  private readonly weightBytes: number;

  /** Binds the weights strictly: a mismatch lists every key, and no tensor is left behind. */
  constructor(stateDict: StateDict, readonly config: VdaConfig, readonly source: string) {
    this.weights = bindVdaWeights(stateDict, config, source);
    this.weightBytes = tensorBytes(this.weights);
  }

  get metric(): boolean {
    return this.config.metric;
  }

  private live(): VdaWeights {
    if (!this.weights) throw new Error('VideoDepthAnything: this model was disposed');
    return this.weights;
  }

  /** The model on one window of T frames (NHWC inputs at the network size) -> T maps. */
  readonly runWindow: WindowRunner = async (inputs, height, width) => {
    const w = this.live();
    const T = inputs.length;
    // A window past wasm's heap stalls its allocator instead of failing: refused before it starts.
    checkVdaWindow(this.config, this.weightBytes, T, height, width, Math.min(height, width));
    const depth = wasmGuard(`running a window of ${T} ${width}x${height} frames`, () => tf.tidy(() => {
      const data = new Float32Array(T * height * width * 3);
      inputs.forEach((d, i) => data.set(d, i * d.length));
      return vdaForward(w, this.config, tf.tensor4d(data, [T, height, width, 3]), T);
    }));
    let all: Float32Array;
    try {
      all = (await depth.data()) as Float32Array;
    } finally {
      depth.dispose();
    }
    const n = height * width;
    return inputs.map((_, i) => all.slice(i * n, (i + 1) * n));
  };

  /**
   * The offline pipeline (`infer_video_depth`): `push` each frame, then `finish`; each returns the
   * depth frames completed so far, in order. Memory stays at about two windows whatever the length.
   */
  videoPipeline(opts: VdaOptions & { record?: PipelineRecorder } = {}): VideoDepthPipeline {
    this.live();
    return new VideoDepthPipeline({ run: this.runWindow, metric: this.config.metric, inputSize: opts.inputSize, record: opts.record });
  }

  /** All frames of a clip through the offline pipeline (a convenience over `videoPipeline`). */
  async predictFrames(frames: Iterable<RgbImage> | AsyncIterable<RgbImage>, opts: VdaOptions = {}): Promise<DepthMap[]> {
    const p = this.videoPipeline(opts);
    const out: DepthMap[] = [];
    for await (const f of frames) out.push(...(await p.push(f)));
    out.push(...(await p.finish()));
    return out;
  }

  /**
   * Streaming mode (`infer_video_depth_one`): the depth of the next frame of a live source. The
   * first call fixes the frame size; `resetStream` starts over. A single photo is frame 0 of a
   * stream: the official model on T = 1.
   */
  async streamFrame(rgb: RgbImage, opts: VdaOptions & StreamFrameOptions = {}): Promise<DepthMap> {
    if (!this.stream || (opts.inputSize !== undefined && opts.inputSize !== this.streamInputSize && this.stream.frames === 0)) {
      this.stream?.reset();
      this.streamInputSize = opts.inputSize ?? 518;
      this.stream = new VdaStream(() => this.live(), this.config, this.streamInputSize);
    } else if (opts.inputSize !== undefined && opts.inputSize !== this.streamInputSize) {
      throw new Error(`streamFrame: inputSize ${opts.inputSize}, but this stream runs at ${this.streamInputSize}; call resetStream() first`);
    }
    return this.stream.frame(rgb, opts);
  }

  /** Frees the streaming cache; the next `streamFrame` starts a new stream. */
  resetStream(): void {
    this.stream?.reset();
    this.stream = null;
  }

  dispose(): void {
    this.resetStream();
    if (this.weights) disposeVdaWeights(this.weights);
    this.weights = null;
  }
}
