/**
 * Short test clips made with ffmpeg from the fixture photo (scaled down): a pan with a known motion
 * and an audio track, a static shot with sensor-like noise and exposure jitter, a rotated one
 * (display matrix), one with an odd size, an animated GIF. Used by the tests and tools/video-flicker.ts.
 */
import { execFileSync } from 'child_process';
import * as path from 'path';

export const PHOTO = path.resolve(__dirname, '../../../shared/fixtures/parity/v2-vits-full/demo01.jpg');

export interface Clip {
  file: string;
  /** Size of the frames as displayed. */
  width: number;
  height: number;
  frames: number;
  fps: number;
  /** Content motion per frame (for the flicker measure), when known. */
  shift?: { dx: number; dy: number };
}

export type ClipKind = 'pan' | 'static' | 'rotated' | 'odd' | 'gif' | 'long';

const ffmpeg = (...args: string[]) => execFileSync('ffmpeg', ['-hide_banner', '-v', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });

/** Makes one clip in `dir`; `frames` overrides the default length. */
export function makeClip(kind: ClipKind, dir: string, opts: { frames?: number; width?: number; height?: number } = {}): Clip {
  const still = ['-loop', '1', '-i', PHOTO];
  const h264 = ['-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p'];
  const file = path.join(dir, `${kind}.${kind === 'gif' ? 'gif' : 'mp4'}`);
  const w = opts.width ?? 96, h = opts.height ?? 64;
  switch (kind) {
    case 'pan': {
      const n = opts.frames ?? 24;
      // 2 px per frame to the right over the photo; a 440 Hz tone as audio.
      ffmpeg(...still, '-f', 'lavfi', '-i', `sine=frequency=440:duration=${n / 12}`, '-vf', `scale=160:-2,setsar=1,crop=${w}:${h}:x='2*n':y=12`,
        '-frames:v', String(n), '-r', '12', ...h264, '-c:a', 'aac', '-b:a', '64k', '-map', '0:v', '-map', '1:a', file);
      return { file, width: w, height: h, frames: n, fps: 12, shift: { dx: 2, dy: 0 } };
    }
    case 'static': {
      const n = opts.frames ?? 24;
      ffmpeg(...still, '-vf', `scale=160:-2,setsar=1,crop=${w}:${h}:x=20:y=12,eq=brightness='0.04*sin(n*1.3)':eval=frame,noise=alls=12:allf=t`,
        '-frames:v', String(n), '-r', '12', ...h264, file);
      return { file, width: w, height: h, frames: n, fps: 12, shift: { dx: 0, dy: 0 } };
    }
    case 'rotated': {
      // Stored 64x48 with a 90-degree display matrix: shown (and decoded) 48x64.
      const plain = path.join(dir, 'rotated-plain.mp4');
      ffmpeg(...still, '-vf', 'scale=160:-2,setsar=1,crop=64:48:x=2*n:y=12', '-frames:v', '8', '-r', '25', ...h264, plain);
      ffmpeg('-i', plain, '-c', 'copy', '-metadata:s:v:0', 'rotate=90', file);
      return { file, width: 48, height: 64, frames: 8, fps: 25 };
    }
    case 'odd': {
      ffmpeg(...still, '-vf', 'scale=160:-2,setsar=1,crop=75:47:x=3*n:y=5', '-frames:v', '6', '-r', '30000/1001', ...h264.slice(0, 4), '-pix_fmt', 'yuv444p', file);
      return { file, width: 75, height: 47, frames: 6, fps: 30000 / 1001 };
    }
    case 'gif': {
      ffmpeg(...still, '-vf', 'scale=160:-2,setsar=1,crop=40:30:x=2*n:y=12', '-frames:v', '5', '-r', '10', file);
      return { file, width: 40, height: 30, frames: 5, fps: 10 };
    }
    case 'long': {
      // Many small frames for the memory measurement (synthetic pattern, fast to encode).
      const n = opts.frames ?? 2400;
      ffmpeg('-f', 'lavfi', '-i', `testsrc2=size=${w}x${h}:rate=24`, '-frames:v', String(n), ...h264, file);
      return { file, width: w, height: h, frames: n, fps: 24 };
    }
  }
}
