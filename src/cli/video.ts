/**
 * `predict` on video files: the video options, and one video to its outputs (node/run_job.ts)
 * with a progress bar (frames done / total, fps, ETA) on a terminal.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { NORMALIZE_MODES, NormalizeMode } from '../node/video/normalize';
import { VideoModel } from '../node/video/run';
import { DepthJobOptions, predictVideoJob } from '../node/run_job';
import type { FrameSequence } from '../node/video/frame_folder';

/** The video options of `predict` (the job's, node/run_job.ts), with the normalisation always set. */
export type VideoCliOptions = Pick<DepthJobOptions, 'outdir' | 'inputSize' | 'format' | 'colormap' | 'grayscale' | 'sideBySide'
  | 'maxFrames' | 'frameStep' | 'start' | 'end' | 'streaming'> & { normalize: NormalizeMode };

const numberArg = (name: string, check: (n: number) => boolean, what: string) => (v: string): number => {
  const n = Number(v);
  if (v.trim() === '' || !check(n)) throw new InvalidArgumentError(`${name} must be ${what}, got "${v}"`);
  return n;
};

/** The video options of `predict`. */
export function addVideoOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--normalize <mode>', 'videos: colour/16-bit levels per frame (official, flickers), one range per video, or each frame aligned to a running reference').choices(NORMALIZE_MODES as string[]).default('aligned'))
    .option('--side-by-side', 'videos: the official layout (frame, 50-px white band, depth) with the source\'s audio; default: depth alone')
    .option('--max-frames <n>', 'videos: at most n frames', numberArg('--max-frames', (n) => Number.isInteger(n) && n >= 1, 'an integer >= 1'))
    .option('--frame-step <n>', 'videos: every n-th frame (the output rate is divided by n); with --multiview, the frames a video gives as views', numberArg('--frame-step', (n) => Number.isInteger(n) && n >= 1, 'an integer >= 1'))
    .option('--start <seconds>', 'videos: skip the frames before', numberArg('--start', (n) => Number.isFinite(n) && n >= 0, 'a number of seconds >= 0'))
    .option('--end <seconds>', 'videos: stop at this time', numberArg('--end', (n) => Number.isFinite(n) && n > 0, 'a number of seconds > 0'))
    .option('--streaming', 'videos with Video Depth Anything weights: the streaming mode (one frame at a time against cached states) instead of the offline pipeline (windows of 32)');
}

/** One video through the model; returns the files written and a short note for the summary line. */
export async function predictVideoInput(model: VideoModel & { metric?: boolean }, input: string | FrameSequence, stem: string, opts: VideoCliOptions,
  protectedPaths: Set<string>, tty: boolean): Promise<{ written: string[]; note: string }> {
  if (opts.format.includes('ply')) throw new Error('--format ply is for images; videos write color (mp4), png16 (frame sequence) and npy (stack)');
  const bar = tty
    ? new SingleBar({ format: ' {bar} {value}/{total} frames | {fps} fps | ETA {eta_formatted} | {file}', stream: process.stderr, clearOnComplete: true, hideCursor: true, etaBuffer: 20 })
    : undefined;
  const t0 = Date.now();
  const file = typeof input === 'string' ? input : input.info.file;
  bar?.start(1, 0, { fps: '-', file });
  try {
    return await predictVideoJob(model, input, stem, opts, protectedPaths, (done, total) => {
      if (!bar) return;
      bar.setTotal(Math.max(total ?? done, done));
      bar.update(done, { fps: (done / ((Date.now() - t0) / 1000)).toFixed(2), file });
    });
  } finally {
    bar?.stop();
  }
}
