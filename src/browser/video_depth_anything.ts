/**
 * Video Depth Anything in a page: the same session as in Node (src/pipeline/vda_session.ts) on a
 * browser backend, weights fetched (Cache Storage) or read from a File, frames from anything the
 * page can draw (a <video> element, a canvas, a VideoFrame, decoded RGB).
 *
 *   const model = await VideoDepthAnything.load('/models/video_depth_anything_vits.pth', { wasmPaths });
 *   const depth = await model.streamFrame(videoElement);   // the streaming mode, one frame at a time
 *   model.resetStream();                                   // a new source
 *   model.dispose();
 */
import { BrowserBackendInfo } from '../backends/browser';
import { VdaConfig } from '../config/vda';
import { BytesZip } from '../io/zip_bytes';
import { parseSafetensors } from '../io/safetensors';
import { DepthMap } from '../pipeline/postprocess';
import { RgbImage } from '../pipeline/rgb';
import { StreamFrameOptions } from '../pipeline/vda_stream';
import { VdaOptions, VdaSession } from '../pipeline/vda_session';
import { isVdaStateDict } from '../weights/detect';
import { sniffWeights } from '../weights/read';
import { stateDictFromSafetensors } from '../weights/safetensors_weights';
import { StateDict, WeightsError } from '../weights/state_dict';
import { readTorchCheckpoint } from '../weights/torch_zip';
import { resolveVdaConfig } from '../weights/vda_detect';
import { BrowserLoadOptions, backendForPageLoad, readWeights, sourceName } from './depth_anything';
import { BrowserImageInput, loadBrowserImage } from './image';

export interface VdaBrowserLoadOptions extends Pick<BrowserLoadOptions, 'backend' | 'wasmPaths' | 'onProgress' | 'cache' | 'signal' | 'name'> {
  /** Default: what our safetensors record (`__metadata__.vda_config`), else the official size the tensors match. */
  config?: VdaConfig;
  /** A metric checkpoint. Default: from the release file name (`metric_video_depth_anything_*`). */
  metric?: boolean;
}

/** A VDA checkpoint's bytes (the released `.pth`, or safetensors with the official keys) and its configuration. */
export async function vdaFromBytes(bytes: Uint8Array, source: string, opts: Pick<VdaBrowserLoadOptions, 'config' | 'metric'> = {}): Promise<{ stateDict: StateDict; config: VdaConfig }> {
  let stateDict: StateDict;
  let recorded: string | undefined;
  if (sniffWeights(bytes.subarray(0, 16), bytes.length, source) === 'zip') {
    stateDict = (await readTorchCheckpoint(source, new BytesZip(bytes, source))).stateDict;
  } else {
    const parsed = parseSafetensors(bytes, source);
    stateDict = stateDictFromSafetensors(parsed);
    recorded = parsed.metadata.vda_config;
  }
  if (!isVdaStateDict(stateDict)) throw new WeightsError(`${source}: not a Video Depth Anything checkpoint (no head.motion_modules.*); use DepthAnything for image models`);
  const config = resolveVdaConfig(stateDict, source, { config: opts.config, recorded, fileName: source, metric: opts.metric });
  return { stateDict, config };
}

export class VideoDepthAnything extends VdaSession {
  private constructor(stateDict: StateDict, config: VdaConfig, readonly backend: BrowserBackendInfo, source: string) {
    super(stateDict, config, source);
  }

  /** A VDA checkpoint by URL, bytes or File. */
  static async load(weights: string | URL | ArrayBuffer | Uint8Array | Blob, opts: VdaBrowserLoadOptions = {}): Promise<VideoDepthAnything> {
    const backend = await backendForPageLoad(opts);
    const source = opts.name ?? sourceName(weights);
    const { stateDict, config } = await vdaFromBytes(await readWeights(weights, opts), source, opts);
    return new VideoDepthAnything(stateDict, config, backend, source);
  }

  /**
   * Streaming mode (`infer_video_depth_one`): the depth of the next frame of a live source, at the
   * frame's size. The first frame fixes the size; `resetStream()` starts a new source.
   */
  override async streamFrame(frame: BrowserImageInput | RgbImage, opts: VdaOptions & StreamFrameOptions = {}): Promise<DepthMap> {
    return super.streamFrame(await loadBrowserImage(frame), opts);
  }

  /** One photo: frame 0 of a fresh stream (the official model on T = 1); any stream in progress is reset. */
  async predict(image: BrowserImageInput, opts: VdaOptions = {}): Promise<DepthMap> {
    this.resetStream();
    try {
      return await this.streamFrame(image, opts);
    } finally {
      this.resetStream();
    }
  }
}
