/**
 * A folder of image files as a clip (the frames of a video exported one per file), for the
 * temporal models: the images directly inside the folder in natural order (`frame2.png` before
 * `frame10.png`), decoded one at a time as `predict` decodes images. Every file's size is read
 * from its header first, so a frame of another size (or a file that is not an image) is refused
 * in one line naming it before any output is opened.
 *
 *   const clip = await openFrameFolder('frames/', ['frames/0001.png', ...], { fps: 24 });
 *   predictVideoFile(model, clip, opts)   // as for a video file
 */
import * as path from 'path';
import sharp from 'sharp';
import { decodeImage } from '../image';
import { DecodedFrame, FrameSelection, checkSelection } from './decode';
import { MAX_VIDEO_PIXELS, VideoError, VideoInfo } from './probe';

/** A clip whose frames come from somewhere else than ffmpeg. */
export interface FrameSequence {
  info: VideoInfo;
  frames(selection?: FrameSelection): AsyncGenerator<DecodedFrame, void, void>;
}

/** Frame rate given to a folder's depth video (a folder has none of its own). */
export const FRAME_FOLDER_FPS = 24;

const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'variant' });

/** Natural order of file names: digit runs compare as numbers (`2` < `10`). */
export function naturalSort(files: readonly string[]): string[] {
  return [...files].sort((a, b) => collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** Size as decoded (EXIF rotation applied, as decodeImage does by default). */
async function displayedSize(file: string): Promise<{ width: number; height: number }> {
  let meta: Awaited<ReturnType<ReturnType<typeof sharp>['metadata']>>;
  try {
    meta = await sharp(file).metadata();
  } catch (e) {
    throw new VideoError(file, `cannot read this frame as an image (${(e as Error).message})`);
  }
  if (!meta.width || !meta.height) throw new VideoError(file, 'cannot read this frame\'s size');
  const swap = (meta.orientation ?? 1) >= 5;
  return swap ? { width: meta.height, height: meta.width } : { width: meta.width, height: meta.height };
}

/** The clip of `files` (already chosen; sorted here), named by `folder`. */
export async function openFrameFolder(folder: string, files: readonly string[], opts: { fps?: number } = {}): Promise<FrameSequence> {
  if (!files.length) throw new VideoError(folder, 'no image frames in this folder');
  const sorted = naturalSort(files);
  const first = await displayedSize(sorted[0]);
  if (first.width * first.height > MAX_VIDEO_PIXELS) {
    throw new VideoError(sorted[0], `frames are ${first.width}x${first.height} = ${first.width * first.height} pixels; at most ${MAX_VIDEO_PIXELS} are accepted`);
  }
  for (let i = 1; i < sorted.length; i++) {
    const s = await displayedSize(sorted[i]);
    if (s.width !== first.width || s.height !== first.height) {
      throw new VideoError(sorted[i], `frame ${i} is ${s.width}x${s.height}, but the clip's first frame (${path.basename(sorted[0])}) is ${first.width}x${first.height}; every frame of a clip must have one size`);
    }
  }
  const fps = opts.fps ?? FRAME_FOLDER_FPS;
  const info: VideoInfo = {
    file: folder, stream: 0, width: first.width, height: first.height, rotation: 0,
    fpsRational: `${fps}/1`, fps, frames: sorted.length, duration: sorted.length / fps, codec: 'image files',
  };
  return {
    info,
    async *frames(selection: FrameSelection = {}) {
      const sel = checkSelection(selection);
      const step = sel.frameStep ?? 1;
      // --start/--end are seconds at the folder's frame rate.
      const from = Math.round((sel.start ?? 0) * fps);
      const to = sel.end !== undefined ? Math.min(sorted.length, Math.ceil(sel.end * fps)) : sorted.length;
      let index = 0;
      for (let n = from; n < to; n += step) {
        if (sel.maxFrames !== undefined && index >= sel.maxFrames) return;
        const image = await decodeImage(sorted[n]);
        if (image.width !== first.width || image.height !== first.height) {
          throw new VideoError(sorted[n], `frame ${n} decodes to ${image.width}x${image.height}, but the clip's first frame is ${first.width}x${first.height}`);
        }
        yield { index, time: n / fps, image };
        index++;
      }
      if (index === 0) throw new VideoError(folder, 'no frames in the selected range');
    },
  };
}
