/**
 * Depth video out: raw RGB frames written to an ffmpeg pipe, encoded to H.264 in MP4. Writes wait
 * for the pipe to drain (backpressure), so frames never pile up in memory. ffmpeg writes a temporary
 * file beside the target; `finish` renames it into place once ffmpeg has succeeded, `abort` removes it.
 */
import { ChildProcess, spawn } from 'child_process';
import { randomBytes } from 'crypto';
import { promises as fs } from 'fs';
import * as path from 'path';
import { VideoError, ffmpegBinary, runTool } from './probe';

export interface EncoderOptions {
  width: number;
  height: number;
  /** Output frame rate, a rational string ("30000/1001"). */
  fps: string;
  /** Audio to add from a source file (its first audio stream), cut to the frames' time range by the caller. */
  audio?: { file: string; codec: string; start?: number; end?: number };
  /** x264 constant rate factor (default 18: visually lossless for colour maps). */
  crf?: number;
}

/** Audio codecs MP4 carries as they are; others are re-encoded to AAC. */
const MP4_AUDIO = new Set(['aac', 'mp3', 'alac', 'ac3', 'eac3']);

let hasX264: Promise<boolean> | undefined;

async function x264Available(ffmpeg: string): Promise<boolean> {
  hasX264 ??= runTool(ffmpeg, ['-hide_banner', '-encoders']).then((r) => / libx264 /.test(r.stdout), () => false);
  return hasX264;
}

export const tempName = (target: string, ext = ''): string =>
  path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp${ext}`);

export class VideoEncoder {
  private errorText = '';
  private failed?: Error;
  private readonly exited: Promise<number>;
  private frames = 0;

  private constructor(private readonly proc: ChildProcess, readonly target: string, private readonly tmp: string, private readonly frameBytes: number) {
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => { if (this.errorText.length < 4000) this.errorText += d; });
    proc.stdin!.on('error', (e) => { this.failed ??= e; });
    this.exited = new Promise((resolve) => {
      proc.on('error', (e) => { this.failed ??= e; resolve(-1); });
      proc.on('close', (code) => resolve(code ?? 1));
    });
  }

  static async start(target: string, opts: EncoderOptions): Promise<VideoEncoder> {
    const ffmpeg = ffmpegBinary('ffmpeg', target);
    const tmp = tempName(target, '.mp4');
    const { width, height } = opts;
    const even = width % 2 === 0 && height % 2 === 0;
    const x264 = await x264Available(ffmpeg);
    const a = opts.audio;
    const args = [
      '-nostdin', '-hide_banner', '-nostats', '-loglevel', 'error',
      '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', opts.fps, '-i', 'pipe:0',
      ...(a ? [...(a.start !== undefined ? ['-ss', String(a.start)] : []), ...(a.end !== undefined ? ['-to', String(a.end)] : []), '-i', a.file] : []),
      '-map', '0:v:0',
      ...(a ? ['-map', '1:a:0', '-c:a', MP4_AUDIO.has(a.codec) ? 'copy' : 'aac'] : []),
      // BT.709 matrix, tagged, so players show the colour map's colours.
      '-vf', 'scale=out_color_matrix=bt709:out_range=tv', '-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709', '-color_range', 'tv',
      ...(x264
        // 4:2:0 needs even sizes; an odd-sized video keeps its size in 4:4:4 (plays in ffmpeg/VLC/mpv, not in every browser).
        ? ['-c:v', 'libx264', '-preset', 'medium', '-crf', String(opts.crf ?? 18), '-pix_fmt', even ? 'yuv420p' : 'yuv444p']
        : ['-c:v', 'mpeg4', '-q:v', '2', '-pix_fmt', 'yuv420p']),
      '-movflags', '+faststart', '-f', 'mp4', '-y', tmp,
    ];
    const proc = spawn(ffmpeg, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    return new VideoEncoder(proc, target, tmp, width * height * 3);
  }

  private fail(what: string): VideoError {
    const detail = this.errorText.trim().split('\n').filter(Boolean).slice(-2).join(' / ') || this.failed?.message || 'ffmpeg stopped';
    return new VideoError(this.target, `${what}: ${detail}`);
  }

  /** Queues one RGB frame; resolves when ffmpeg can take more. */
  async write(rgb: Uint8Array): Promise<void> {
    if (rgb.length !== this.frameBytes) throw new VideoError(this.target, `frame has ${rgb.length} bytes; ${this.frameBytes} expected`);
    const stdin = this.proc.stdin!;
    if (this.failed || stdin.destroyed) throw this.fail('encoding failed');
    this.frames++;
    if (stdin.write(rgb)) return;
    await new Promise<void>((resolve) => {
      const done = () => { stdin.off('drain', done); stdin.off('close', done); resolve(); };
      stdin.on('drain', done);
      stdin.on('close', done);
    });
    if (this.failed) throw this.fail('encoding failed');
  }

  /** Ends the stream, waits for ffmpeg, moves the file into place. */
  async finish(): Promise<void> {
    this.proc.stdin!.end();
    const code = await this.exited;
    if (code !== 0) {
      await fs.rm(this.tmp, { force: true });
      throw this.fail(`encoding ${this.frames} frames failed (ffmpeg exit code ${code})`);
    }
    try {
      await fs.rename(this.tmp, this.target);
    } catch (e) {
      await fs.rm(this.tmp, { force: true });
      throw new VideoError(this.target, `cannot write: ${(e as Error).message}`);
    }
  }

  /** Stops ffmpeg and removes the temporary file; the target is untouched. */
  async abort(): Promise<void> {
    this.proc.stdin!.destroy();
    this.proc.kill('SIGKILL');
    await this.exited;
    await fs.rm(this.tmp, { force: true });
  }
}
