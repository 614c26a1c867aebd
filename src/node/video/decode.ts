/**
 * Decoded frames, one at a time: ffmpeg writes raw RGB (rgb24) frames to a pipe and we read one
 * frame's bytes per step. The pipe is read only when the consumer asks for the next frame, so a
 * slow model stalls ffmpeg (backpressure) instead of filling memory: at most one frame plus the
 * pipe's buffers is held, whatever the video's length.
 *
 * Frame timestamps come from ffmpeg's `showinfo` filter on stderr (exact for variable frame rate
 * too); the same stream carries the errors that tell a damaged file.
 */
import { spawn } from 'child_process';
import { createInterface } from 'readline';
import type { RgbImage } from '../../pipeline/rgb';
import { VideoError, VideoInfo, ffmpegBinary } from './probe';

export interface FrameSelection {
  /** Seconds from the start of the video; frames before are skipped (frame-accurate seek). */
  start?: number;
  /** Seconds from the start of the video; frames at or after are not decoded. */
  end?: number;
  /** Keep every n-th decoded frame (1 = all). */
  frameStep?: number;
  /** Stop after this many kept frames. */
  maxFrames?: number;
}

export interface DecodedFrame {
  /** Index among the kept frames, from 0. */
  index: number;
  /** Presentation time in seconds from the start of the video. */
  time: number;
  image: RgbImage;
}

/**
 * The input ended early or ffmpeg reported errors. Thrown after the last good frame was yielded,
 * so a consumer has everything decoded before the damage.
 */
export class VideoDamagedError extends VideoError {
  constructor(source: string, readonly framesDecoded: number, readonly lastTime: number | undefined, expected: number | undefined, reason: string) {
    super(source, `damaged or truncated video: decoding stopped after ${framesDecoded} frame${framesDecoded === 1 ? '' : 's'}`
      + `${lastTime !== undefined ? ` (last at ${lastTime.toFixed(3)} s)` : ''}${expected !== undefined ? ` of ${expected} expected` : ''}: ${reason}`);
    this.name = 'VideoDamagedError';
  }
}

export function checkSelection(sel: FrameSelection): FrameSelection {
  const bad = (name: string, v: unknown, what: string) => new Error(`${name} must be ${what}, got ${v}`);
  if (sel.start !== undefined && !(Number.isFinite(sel.start) && sel.start >= 0)) throw bad('start', sel.start, 'a number of seconds >= 0');
  if (sel.end !== undefined && !(Number.isFinite(sel.end) && sel.end > 0)) throw bad('end', sel.end, 'a number of seconds > 0');
  if (sel.start !== undefined && sel.end !== undefined && !(sel.end > sel.start)) throw new Error(`end (${sel.end} s) must be after start (${sel.start} s)`);
  if (sel.frameStep !== undefined && !(Number.isInteger(sel.frameStep) && sel.frameStep >= 1)) throw bad('frame step', sel.frameStep, 'an integer >= 1');
  if (sel.maxFrames !== undefined && !(Number.isInteger(sel.maxFrames) && sel.maxFrames >= 1)) throw bad('max frames', sel.maxFrames, 'an integer >= 1');
  return sel;
}

/** How many frames a selection keeps, when the video's count is known (for progress; an estimate with start/end). */
export function expectedFrames(info: VideoInfo, sel: FrameSelection): number | undefined {
  let n = info.frames;
  if (n === undefined && info.duration !== undefined) n = Math.round(info.duration * info.fps);
  if (n === undefined) return sel.maxFrames;
  if (sel.start !== undefined || sel.end !== undefined) {
    const from = Math.round((sel.start ?? 0) * info.fps);
    const to = sel.end !== undefined ? Math.min(n, Math.ceil(sel.end * info.fps)) : n;
    n = Math.max(0, to - from);
  }
  n = Math.ceil(n / (sel.frameStep ?? 1));
  return sel.maxFrames !== undefined ? Math.min(n, sel.maxFrames) : n;
}

/** A FIFO of values produced by one callback and awaited by another. */
class Queue<T> {
  private items: T[] = [];
  private waiter?: () => void;
  private closed = false;
  push(v: T): void { this.items.push(v); this.waiter?.(); }
  close(): void { this.closed = true; this.waiter?.(); }
  async shift(): Promise<T | undefined> {
    while (!this.items.length && !this.closed) await new Promise<void>((r) => { this.waiter = r; });
    this.waiter = undefined;
    return this.items.shift();
  }
}

const TIME_BASE = /Parsed_showinfo.*config in time_base:\s*(\d+)\/(\d+)/;
const SHOWINFO = /Parsed_showinfo.*\]\s+n:\s*(\d+)\s+pts:\s*(-?\d+)\s+pts_time:(\S+).*?\bs:(\d+)x(\d+)/;

/** Yields the selected frames as RGB; throws VideoDamagedError (after the good frames) on a damaged input. */
export async function* decodeFrames(info: VideoInfo, selection: FrameSelection = {}): AsyncGenerator<DecodedFrame, void, void> {
  const sel = checkSelection(selection);
  const { file, width, height } = info;
  const ffmpeg = ffmpegBinary('ffmpeg', file);
  const filters = [];
  if ((sel.frameStep ?? 1) > 1) filters.push(`select=not(mod(n\\,${sel.frameStep}))`);
  filters.push('showinfo');
  const args = [
    '-nostdin', '-hide_banner', '-nostats', '-loglevel', 'level+info',
    ...(sel.start !== undefined ? ['-ss', String(sel.start)] : []),
    ...(sel.end !== undefined ? ['-to', String(sel.end)] : []),
    '-i', file, '-map', `0:${info.stream}`, '-an', '-sn', '-dn',
    // Rotation metadata is applied by ffmpeg's default autorotate (frames come out upright).
    '-vf', filters.join(','),
    // Every decoded frame exactly once: no duplication or dropping to a constant rate.
    '-fps_mode', 'passthrough',
    ...(sel.maxFrames !== undefined ? ['-frames:v', String(sel.maxFrames)] : []),
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1',
  ];
  const proc = spawn(ffmpeg, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number>((resolve) => {
    proc.on('error', () => resolve(-1));
    proc.on('close', (code, signal) => resolve(code ?? (signal ? -2 : 1)));
  });
  const times = new Queue<{ time: number; w: number; h: number }>();
  const errors: string[] = [];
  const lines = createInterface({ input: proc.stderr });
  let timeBase: [number, number] | undefined;
  lines.on('line', (line) => {
    const m = SHOWINFO.exec(line);
    // pts x time base is exact; pts_time is printed with 6 digits.
    if (m) times.push({ time: timeBase ? (Number(m[2]) * timeBase[0]) / timeBase[1] : Number(m[3]), w: Number(m[4]), h: Number(m[5]) });
    const tb = !m && TIME_BASE.exec(line);
    if (tb && Number(tb[2]) > 0) timeBase = [Number(tb[1]), Number(tb[2])];
    else if (/\[(error|fatal|panic)\]/.test(line) && errors.length < 5) errors.push(line.replace(/^\[[^\]]*@ 0x[0-9a-f]+\]\s*/, '').replace(/\[(error|fatal|panic)\]\s*/, '').trim());
  });
  lines.on('close', () => times.close());

  const frameBytes = width * height * 3;
  const offset = sel.start ?? 0;
  let buf = new Uint8Array(frameBytes);
  let filled = 0;
  let index = 0;
  let lastTime: number | undefined;
  let finished = false;
  try {
    for await (const chunk of proc.stdout as AsyncIterable<Buffer>) {
      let off = 0;
      while (off < chunk.length) {
        const n = Math.min(frameBytes - filled, chunk.length - off);
        buf.set(chunk.subarray(off, off + n), filled);
        filled += n;
        off += n;
        if (filled < frameBytes) continue;
        const t = await times.shift();
        if (t && (t.w !== width || t.h !== height)) {
          throw new VideoError(file, `decoded frames are ${t.w}x${t.h}, but ffprobe said ${width}x${height} (rotation ${info.rotation})`);
        }
        lastTime = t ? offset + t.time : offset + index / info.fps;
        yield { index, time: lastTime, image: { data: buf, width, height } };
        index++;
        buf = new Uint8Array(frameBytes);
        filled = 0;
      }
    }
    const code = await exited;
    finished = true;
    if (code === -1) throw new VideoError(file, `cannot run ${ffmpeg}`);
    const expected = info.frames !== undefined && sel.start === undefined && sel.end === undefined ? expectedFrames(info, sel) : undefined;
    if (code !== 0 || errors.length || filled > 0) {
      const reason = errors[0]?.replace(/\.$/, '') ?? (filled > 0 ? `the last frame has ${filled} of ${frameBytes} bytes` : `ffmpeg exit code ${code}`);
      if (index === 0 && code !== 0) throw new VideoError(file, `cannot decode the video: ${reason}`);
      throw new VideoDamagedError(file, index, lastTime, expected, reason);
    }
    if (index === 0) {
      throw new VideoError(file, sel.start !== undefined || sel.end !== undefined ? 'no frames in the selected time range' : 'the video has zero frames');
    }
  } finally {
    if (!finished) {
      // The consumer stopped early (or failed): stop ffmpeg and reap it.
      proc.kill('SIGKILL');
      proc.stdout.destroy();
      await exited;
    }
    lines.close();
  }
}
