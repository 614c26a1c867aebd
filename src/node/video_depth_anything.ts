/**
 * Video Depth Anything in Node: a weights file (official `.pth` or safetensors with the official
 * keys) on a Node backend, frames decoded with sharp or ffmpeg.
 *
 *   const model = await VideoDepthAnything.load('video_depth_anything_vits.pth');
 *   for await (const { index, depth } of model.predictVideo('clip.mp4')) ...   // offline pipeline
 *   const d = await model.streamFrame(rgb);                                    // streaming mode
 *   model.dispose();
 *
 * A thin shell over the platform-free session (src/pipeline/vda_session.ts).
 */
import { promises as fs } from 'fs';
import { BackendInfo, BackendName, backendForLoad } from '../backends/node';
import { VdaConfig, vdaConfigFromJson } from '../config/vda';
import { DepthMap } from '../pipeline/postprocess';
import { VdaOptions, VdaSession } from '../pipeline/vda_session';
import { isVdaStateDict } from '../weights/detect';
import { resolveVdaConfig } from '../weights/vda_detect';
import { StateDict, WeightsError } from '../weights/state_dict';
import { ImageInput, loadImage } from './image';
import { loadWeightsFile } from './weights_file';
import type { SequencePredictor, VideoDepthFrame, VideoPredictOptions } from './video/run';
import { weightsFileKeys } from './weights_file';

export interface VdaLoadOptions {
  backend?: BackendName;
  threads?: number;
  /** A VdaConfig or a path to a config.json (the fixtures' schema). Default: from the tensors and the file name. */
  config?: VdaConfig | string;
  /** Metric checkpoint (no scale/shift fit in the offline pipeline). Default: from the release file name. */
  metric?: boolean;
}

/** True when a weights file is a Video Depth Anything checkpoint (its keys, not its name). */
export async function isVdaWeightsFile(file: string): Promise<boolean> {
  const keys = await weightsFileKeys(file);
  return keys !== undefined && isVdaStateDict(keys);
}

export class VideoDepthAnything extends VdaSession {
  private constructor(stateDict: StateDict, config: VdaConfig, readonly backend: BackendInfo, source: string) {
    super(stateDict, config, source);
  }

  static async load(weights: string, opts: VdaLoadOptions = {}): Promise<VideoDepthAnything> {
    const backend = await backendForLoad(opts);
    const loaded = await loadWeightsFile(weights);
    if (!isVdaStateDict(loaded.stateDict)) throw new WeightsError(`${weights}: not a Video Depth Anything checkpoint (no head.motion_modules.*); use DepthAnything for image models`);
    let config = typeof opts.config === 'string' ? vdaConfigFromJson(JSON.parse(await fs.readFile(opts.config, 'utf8')), opts.config) : opts.config;
    config = resolveVdaConfig(loaded.stateDict, weights, { config, fileName: weights, metric: opts.metric });
    return new VideoDepthAnything(loaded.stateDict, config, backend, loaded.source);
  }

  /**
   * One photo: frame 0 of a fresh stream, the official model on T = 1 (what `infer_video_depth_one`
   * computes for a stream's first frame). Any stream in progress is reset.
   */
  async predict(image: ImageInput, opts: VdaOptions = {}): Promise<DepthMap> {
    this.resetStream();
    try {
      return await this.streamFrame(await loadImage(image), opts);
    } finally {
      this.resetStream();
    }
  }

  /** The video code's view: frames in, depth frames out as they complete (offline, or streaming). */
  sequence(opts: VdaOptions & { streaming?: boolean } = {}): SequencePredictor {
    if (opts.streaming) {
      this.resetStream();
      return {
        push: async (img) => [await this.streamFrame(img, opts)],
        finish: async () => { this.resetStream(); return []; },
      };
    }
    const p = this.videoPipeline(opts);
    return { push: (img) => p.push(img), finish: () => p.finish() };
  }

  /** Depth for each selected frame of a video file (ffmpeg), through the offline pipeline or, with `streaming`, the streaming mode. */
  async *predictVideo(video: string, opts: VideoPredictOptions = {}): AsyncGenerator<VideoDepthFrame, void, void> {
    const { predictVideoFrames } = await import('./video/run');
    yield* predictVideoFrames(this, video, opts);
  }
}
