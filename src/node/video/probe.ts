/**
 * Video files through the system's ffmpeg/ffprobe (Node only). ffprobe tells the stream's size,
 * rotation, frame rate, frame count and audio before any frame is decoded, so bad inputs fail
 * with one line before outputs are opened.
 *
 * Why the system ffmpeg and not an npm package shipping a binary: the only offline-installable
 * ones (`@ffmpeg-installer/*`) carry an ffmpeg 4.1 build of 2018 that gets no security fixes,
 * and demuxers/decoders are exactly where untrusted video files attack; Debian's ffmpeg 5.1
 * package is security-maintained. `FFMPEG_PATH` / `FFPROBE_PATH` point to another build.
 */
import { spawn } from 'child_process';
import { accessSync, constants, statSync } from 'fs';
import * as path from 'path';

export class VideoError extends Error {
  constructor(readonly source: string, detail: string) {
    super(`${source}: ${detail}`);
    this.name = 'VideoError';
  }
}

/**
 * Largest frame accepted, in pixels: 8K UHD (7680x4320, 33 MP) fits. One frame costs about
 * 20 bytes per pixel in flight (RGB, float32 depth, its resize, levels, colour).
 */
export const MAX_VIDEO_PIXELS = 40_000_000;

export interface VideoInfo {
  file: string;
  /** Index of the video stream in the file (the first that is not cover art). */
  stream: number;
  /** Size of the decoded frames as displayed (rotation applied). */
  width: number;
  height: number;
  /** Rotation of the display matrix (0, 90, 180, 270, as ffprobe reports it); ffmpeg's decoder applies it, so frames come out as displayed. */
  rotation: number;
  /** Frame rate as ffmpeg's rational string ("30000/1001") and as a number. */
  fpsRational: string;
  fps: number;
  /** Seconds, when the container says. */
  duration?: number;
  /** Frames in the video stream (the container's count, else the packets counted), when known. */
  frames?: number;
  codec: string;
  /** The first audio stream's codec, if any. */
  audioCodec?: string;
}

const INSTALL_HINT = 'install ffmpeg (Debian/Ubuntu: apt-get install ffmpeg; macOS: brew install ffmpeg) or set FFMPEG_PATH and FFPROBE_PATH to the binaries';

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      if (statSync(p).isFile()) { accessSync(p, constants.X_OK); return p; }
    } catch { /* next */ }
  }
  return undefined;
}

/** The ffmpeg or ffprobe to run: `FFMPEG_PATH` / `FFPROBE_PATH`, else the one on PATH. */
export function ffmpegBinary(tool: 'ffmpeg' | 'ffprobe', source: string): string {
  const env = process.env[tool === 'ffmpeg' ? 'FFMPEG_PATH' : 'FFPROBE_PATH'];
  if (env) {
    try {
      accessSync(env, constants.X_OK);
      return env;
    } catch {
      throw new VideoError(source, `${tool === 'ffmpeg' ? 'FFMPEG_PATH' : 'FFPROBE_PATH'}=${env} is not an executable file; ${INSTALL_HINT}`);
    }
  }
  const found = findOnPath(tool);
  if (!found) throw new VideoError(source, `reading video needs ${tool}, which is not on PATH; ${INSTALL_HINT}`);
  return found;
}

/** Runs a tool to completion, collecting its output (probe-sized outputs only). */
export function runTool(bin: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    p.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** "30000/1001" -> 29.97; undefined for "0/0" and the like. */
export function parseRational(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const [a, b] = s.split('/').map(Number);
  const v = b === undefined ? a : a / b;
  return Number.isFinite(v) && v > 0 ? v : undefined;
}

interface ProbeStream {
  index?: number;
  disposition?: { attached_pic?: number };
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  r_frame_rate?: string;
  avg_frame_rate?: string;
  nb_frames?: string;
  nb_read_packets?: string;
  duration?: string;
  tags?: Record<string, string>;
  side_data_list?: Array<{ side_data_type?: string; rotation?: number }>;
}

/** Reads what the video stream is, or says in one line why the file is not a usable video. */
export async function probeVideo(file: string, opts: { maxPixels?: number } = {}): Promise<VideoInfo> {
  const ffprobe = ffmpegBinary('ffprobe', file);
  ffmpegBinary('ffmpeg', file); // needed next: say so before any work
  try {
    if (!statSync(file).isFile()) throw new VideoError(file, 'not a file');
  } catch (e) {
    if (e instanceof VideoError) throw e;
    throw new VideoError(file, 'file not found');
  }
  // -count_packets reads the packets (not decodes them): an exact count where the container has none (mkv, webm).
  const { code, stdout, stderr } = await runTool(ffprobe, ['-v', 'error', '-count_packets', '-show_streams', '-show_format', '-of', 'json', file]);
  const firstLine = stderr.split('\n').map((l) => l.trim()).filter(Boolean).pop();
  if (code !== 0) throw new VideoError(file, `not a video ffprobe can read (${(firstLine ?? `exit code ${code}`).replace(`${file}: `, '')})`);
  let parsed: { streams?: ProbeStream[]; format?: { duration?: string; format_name?: string } };
  try {
    parsed = JSON.parse(stdout);
  } catch {
    throw new VideoError(file, 'ffprobe gave no readable description');
  }
  const streams = parsed.streams ?? [];
  // An attached picture (cover art) is a "video" stream of one frame; skip it.
  const v = streams.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  if (!v) {
    const kinds = streams.map((s) => (s.disposition?.attached_pic ? 'cover art' : s.codec_type ?? '?')).join(', ') || 'none';
    throw new VideoError(file, `no video stream (streams: ${kinds})`);
  }
  const cw = v.width ?? 0, ch = v.height ?? 0;
  if (!(cw > 0 && ch > 0)) throw new VideoError(file, `video stream has no frame size (${cw}x${ch})`);
  const maxPixels = opts.maxPixels ?? MAX_VIDEO_PIXELS;
  if (cw * ch > maxPixels) throw new VideoError(file, `frames are ${cw}x${ch} = ${cw * ch} pixels; at most ${maxPixels} are accepted`);
  const matrix = v.side_data_list?.find((d) => d.side_data_type === 'Display Matrix' && typeof d.rotation === 'number');
  // As ffprobe reports it (the display matrix's angle); an old-style `rotate` tag counts the other way.
  const raw = matrix?.rotation !== undefined ? matrix.rotation : -Number(v.tags?.rotate ?? 0);
  const rotation = ((Math.round(raw / 90) * 90) % 360 + 360) % 360;
  const swap = rotation === 90 || rotation === 270;
  const rate = parseRational(v.avg_frame_rate) !== undefined ? v.avg_frame_rate! : v.r_frame_rate;
  const fps = parseRational(rate);
  if (fps === undefined) throw new VideoError(file, `video stream has no frame rate (avg ${v.avg_frame_rate}, r ${v.r_frame_rate})`);
  const count = Number(v.nb_frames ?? v.nb_read_packets);
  const duration = Number(v.duration ?? parsed.format?.duration);
  if (Number.isInteger(count) && count === 0) throw new VideoError(file, 'the video stream has zero frames');
  const audio = streams.find((s) => s.codec_type === 'audio');
  return {
    file,
    stream: v.index ?? 0,
    width: swap ? ch : cw,
    height: swap ? cw : ch,
    rotation,
    fpsRational: rate!,
    fps,
    duration: Number.isFinite(duration) && duration > 0 ? duration : undefined,
    frames: Number.isInteger(count) && count >= 0 ? count : undefined,
    codec: v.codec_name ?? '?',
    audioCodec: audio?.codec_name,
  };
}
