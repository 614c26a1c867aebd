/**
 * `predict CLIP --weights VDA_FILE` through the video path (ffmpeg): the streaming mode on a
 * lossless clip of the streaming fixture's frames matches the official per-frame depth; a
 * truncated clip through the offline pipeline writes the frames before the damage and says where
 * decoding stopped, in one line.
 */
import { execFileSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { entryToFloat32, parseSafetensors } from '../../src/io/safetensors';
import { compareArrays } from '../../src/verify/compare';
import { FIXTURES } from '../helpers';
import { runCli } from '../cli/run_cli';

const V = path.join(FIXTURES, 'vda');
const weights = ['--weights', path.join(V, 'vda-tiny', 'weights.safetensors'), '--config', path.join(V, 'vda-tiny', 'config.json'), '--backend', 'wasm'];
let dir: string;
let clip: string;

/** A .npy written by the npy output: float32, C order, 128-byte header here (v1.0). */
function readNpy(file: string): { shape: number[]; data: Float32Array } {
  const b = readFileSync(file);
  const headerLen = b.readUInt16LE(8);
  const header = b.subarray(10, 10 + headerLen).toString('latin1');
  const shape = /'shape': \(([^)]*)\)/.exec(header)![1].split(',').filter((s) => s.trim()).map(Number);
  const start = 10 + headerLen;
  return { shape, data: new Float32Array(b.buffer.slice(b.byteOffset + start, b.byteOffset + b.length)) };
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'vda-video-'));
  clip = path.join(dir, 'stream.mkv');
  // FFV1 is lossless: ffmpeg decodes it to exactly the PNG pixels.
  execFileSync('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-framerate', '24', '-i', path.join(V, 'vda-tiny-stream', 'frames', '%03d.png'), '-c:v', 'ffv1', '-pix_fmt', 'bgr0', clip]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('predict with Video Depth Anything weights', () => {
  test('--streaming: each frame of the clip is the official infer_video_depth_one depth (the first 8)', async () => {
    const r = await runCli('predict', clip, ...weights, '--input-size', '42', '--streaming', '--max-frames', '8', '--format', 'npy', '--outdir', path.join(dir, 'out'));
    expect(r.err).toContain('Video Depth Anything vits (width 32, 12 blocks) relative, streaming');
    expect(r.code).toBe(0);
    const npy = readNpy(path.join(dir, 'out', 'stream_depth.npy'));
    expect(npy.shape).toEqual([8, 48, 64]);
    const ref = parseSafetensors(readFileSync(path.join(V, 'vda-tiny-stream', 'stream.safetensors')), 'stream');
    const worst = Math.max(...Array.from({ length: 8 }, (_, i) => compareArrays(npy.data.subarray(i * 48 * 64, (i + 1) * 48 * 64), entryToFloat32(ref.tensors.get(`frame.${i}.depth`)!)).relL2));
    expect(worst).toBeLessThan(2e-5);
  });

  test('a truncated clip (offline pipeline): the frames before the damage are written, one line says where it stopped', async () => {
    const cut = path.join(dir, 'cut.mkv');
    writeFileSync(cut, readFileSync(clip).subarray(0, Math.floor(statSync(clip).size / 2)));
    const r = await runCli('predict', cut, ...weights, '--input-size', '42', '--format', 'npy', '--outdir', path.join(dir, 'out'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/FAILED .*cut\.mkv: damaged or truncated video: decoding stopped after (\d+) frames .*; the \1 frames before were written to .*cut_depth\.npy/);
    const n = Number(/decoding stopped after (\d+) frames/.exec(r.err)![1]);
    expect(n).toBeGreaterThan(0);
    expect(readNpy(path.join(dir, 'out', 'cut_depth.npy')).shape).toEqual([n, 48, 64]);
  });
});
