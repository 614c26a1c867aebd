/**
 * Video Depth Anything's streaming mode (`infer_video_depth_one`, video_depth_stream.py): one frame
 * at a time, T = 1, attending to cached temporal states of earlier frames. After frame 0 the cache
 * list holds frame 0's states 32 times (ids: 0 x 32); frame i uses list entries [0:2] + [-29:]
 * (31 frames, positions 0..30, the new frame at 31), then appends its own; from frame 11 on
 * (id + 32 > gap + 1, gap = 41) entry 1 is deleted after each frame. The list stays at 42 entries,
 * and frame 0's states are stored once.
 */
import * as tf from '@tensorflow/tfjs-core';
import { VDA_PIPELINE, VdaConfig } from '../config/vda';
import { Tap } from '../nn/tap';
import { TemporalStates } from '../vda/dpt_temporal';
import { VdaWeights, vdaDepth, vdaFeatures } from '../vda/video_depth';
import { wasmGuard } from '../depth/depth_anything';
import { DepthMap, resizeBilinearAlignCorners } from './postprocess';
import { ImageError, RgbImage, validateRgb } from './rgb';
import { vdaInputSize, vdaPreprocess } from './vda_video';

const INFER_LEN = VDA_PIPELINE.inferLen;
/** (INFER_LEN - OVERLAP) * 2 - 1 - (OVERLAP - INTERP_LEN) = 41. */
const GAP = (INFER_LEN - VDA_PIPELINE.overlap) * 2 - 1 - (VDA_PIPELINE.overlap - VDA_PIPELINE.interpLen);


/**
 * The official `frame_id_list` / `frame_cache_list` bookkeeping (they move together), over any
 * cached value: after frame 0 its value 32 times; `used()` = entries [0:2] + [-29:]; each frame
 * appended, then entry 1 deleted once id + 32 > gap + 1. `add` returns a value no entry holds any
 * more (to free), if any.
 */
export class StreamCacheList<T> {
  entries: Array<{ id: number; value: T }> = [];

  used(): Array<{ id: number; value: T }> {
    return [...this.entries.slice(0, 2), ...this.entries.slice(-(INFER_LEN - 3))];
  }

  add(id: number, value: T): T | undefined {
    const entry = { id, value };
    if (id === 0) this.entries = Array.from({ length: INFER_LEN }, () => entry);
    else this.entries.push(entry);
    if (id + INFER_LEN > GAP + 1) {
      const [gone] = this.entries.splice(1, 1);
      if (!this.entries.includes(gone)) return gone.value;
    }
    return undefined;
  }
}

/** What one streamed frame computed, for parity checks. */
export interface StreamFrameInfo {
  index: number;
  /** The frames whose cached states this frame attended to, in order (frames >= 1). */
  cacheIds?: number[];
  /** This frame's states as stored in the cache: data and shape ([(h*w), 1, C]) per module and block. */
  states: Array<{ data: Float32Array; shape: number[] }>;
  /** Depth at the network size, [h, w]. */
  depthNet: Float32Array;
  netHeight: number;
  netWidth: number;
}

export interface StreamFrameOptions {
  tap?: Tap;
  onFrame?: (info: StreamFrameInfo) => void;
}

export class VdaStream {
  private cache = new StreamCacheList<TemporalStates>();
  private id = -1;
  private width = 0;
  private height = 0;
  private inputSize = 0;

  constructor(private readonly weights: () => VdaWeights, private readonly cfg: VdaConfig, private readonly requestedInputSize = 518) {}

  /** Frames streamed so far. */
  get frames(): number {
    return this.id + 1;
  }

  /** Depth of the next frame at its own size (relative, or metres for metric checkpoints). */
  async frame(img: RgbImage, opts: StreamFrameOptions = {}): Promise<DepthMap> {
    const w = this.weights();
    validateRgb(img, `stream frame ${this.id + 1}`);
    if (this.id < 0) {
      this.inputSize = vdaInputSize(img.width, img.height, this.requestedInputSize);
    } else if (img.width !== this.width || img.height !== this.height) {
      throw new ImageError(`stream frame ${this.id + 1}`, `is ${img.width}x${img.height}, but the stream's first frame was ${this.width}x${this.height}: every frame must have one size (reset the stream for another source)`);
    }
    const input = vdaPreprocess(img, this.inputSize);
    const H = input.height, W = input.width;
    const first = this.id < 0;
    const used = first ? [] : this.cache.used().map((e) => ({ id: e.id, states: e.value }));
    const { depth, states } = wasmGuard(`streaming a ${W}x${H} frame`, () => tf.tidy(() => {
      const x = tf.tensor4d(input.data, [1, H, W, 3]);
      const layers = vdaFeatures(w, this.cfg, x, opts.tap);
      const cached = first ? undefined : used[0].states.map((_, k) => tf.concat(used.map((e) => e.states[k]), 1) as tf.Tensor3D);
      return vdaDepth(w, this.cfg, layers, 1, H, W, cached, opts.tap) as unknown as tf.TensorContainer;
    }) as unknown as { depth: tf.Tensor4D; states: TemporalStates });
    let depthNet: Float32Array;
    try {
      depthNet = (await depth.data()) as Float32Array;
    } catch (e) {
      tf.dispose(states);
      throw e;
    } finally {
      depth.dispose();
    }
    // Committed only now: a failed frame leaves the stream as it was.
    this.id++;
    if (first) {
      this.width = img.width;
      this.height = img.height;
    }
    const gone = this.cache.add(this.id, states);
    if (gone) tf.dispose(gone);
    if (opts.onFrame) {
      opts.onFrame({
        index: this.id,
        ...(first ? {} : { cacheIds: used.map((e) => e.id) }),
        states: await Promise.all(states.map(async (s) => ({ data: (await s.data()) as Float32Array, shape: s.shape }))),
        depthNet, netHeight: H, netWidth: W,
      });
    }
    return { data: resizeBilinearAlignCorners(depthNet, H, W, this.height, this.width), width: this.width, height: this.height, metric: this.cfg.metric };
  }

  /** Forgets every cached frame (the next frame starts a new stream). */
  reset(): void {
    tf.dispose([...new Set(this.cache.entries.map((e) => e.value))].flat());
    this.cache = new StreamCacheList<TemporalStates>();
    this.id = -1;
  }
}
