/**
 * `predict` and `download` with Depth Anything 3 and Video Depth Anything, on the tiny fixtures:
 * `--multiview` (per-view depth, cameras.json, scene.ply, scene.glb equal to the official run's
 * arrays), DA3 single images (mono, metric through `--model`, any-view on one view), a folder of
 * frames as a clip for VDA (the official offline pipeline's depth), official names through the
 * cache (a local stand-in for the hub, nothing downloaded), the licence lines, and one line for
 * each bad input with nothing written.
 */
import { execFileSync } from 'child_process';
import { promises as fs, readFileSync } from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { runCli as run } from './run_cli';
import { decodeNpy } from '../../src/io/npy';
import { decodePly } from '../../src/io/ply';
import { entryToFloat32, parseSafetensors, serializeSafetensors } from '../../src/io/safetensors';
import { HUB_URL_ENV, OFFICIAL_MODELS, cachedPath, licenceLine } from '../../src/node/hub';
import { da3ProcessedFocal } from '../../src/node/da3_job';
import { naturalSort } from '../../src/node/video/frame_folder';
import { compareArrays } from '../../src/verify/compare';
import { expectArrayParity } from '../helpers';

const FIXTURES = path.resolve(__dirname, '../../../shared/fixtures');
const ANY = path.join(FIXTURES, 'da3', 'da3-tiny-anyview');
const MONO = path.join(FIXTURES, 'da3', 'da3-tiny-mono');
const VDA = path.join(FIXTURES, 'vda');
const VDA_WEIGHTS = ['--weights', path.join(VDA, 'vda-tiny', 'weights.safetensors'), '--config', path.join(VDA, 'vda-tiny', 'config.json')];
const VIEWS = [path.join(ANY, 'image0.png'), path.join(ANY, 'image1.png')];

const acts = (dir: string) => parseSafetensors(readFileSync(path.join(dir, 'activations.safetensors')), `${dir}/activations.safetensors`);
const npy = async (file: string) => decodeNpy(await fs.readFile(file));

let dir: string;
let savedEnv: NodeJS.ProcessEnv;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'da-models-'));
  savedEnv = { ...process.env };
  process.env.DEPTH_ANYTHING_CACHE = path.join(dir, 'cache');
  process.env[HUB_URL_ENV] = 'http://127.0.0.1:9'; // nothing may be downloaded unless a test serves it
});
afterEach(async () => {
  process.env = savedEnv;
  await fs.rm(dir, { recursive: true, force: true });
});

/** Puts a fixture file where `--model NAME` finds it in the cache (files placed by hand are used as they are). */
async function cache(name: keyof typeof OFFICIAL_MODELS, weights: string, config?: string): Promise<string> {
  const target = cachedPath(OFFICIAL_MODELS[name]);
  await fs.mkdir(path.dirname(target), { recursive: true });
  await fs.copyFile(weights, target);
  if (config) await fs.copyFile(config, path.join(path.dirname(target), 'config.json'));
  return target;
}

describe('Depth Anything 3: predict --multiview (wasm)', () => {
  test('two photos -> per-view depth, cameras.json, scene.ply and scene.glb as the official inference and GLB exporter compute them', async () => {
    const out = path.join(dir, 'out');
    const r = await run('predict', ...VIEWS, '--weights', path.join(ANY, 'weights.safetensors'), '--multiview', '--input-size', '84',
      '--format', 'npy,color', '--backend', 'wasm', '--outdir', out);
    expect(r.err).toContain('Depth Anything 3 vits (width 32, 12 blocks) any-view, process_res 84 upper_bound_resize');
    expect(r.code).toBe(0);
    expect((await fs.readdir(out)).sort()).toEqual(['cameras.json', 'image0_depth.npy', 'image0_depth.png', 'image1_depth.npy', 'image1_depth.png', 'scene.glb', 'scene.ply']);
    const a = acts(ANY);
    const ref = entryToFloat32(a.tensors.get('prediction.depth')!);
    for (const [i, stem] of ['image0', 'image1'].entries()) {
      const d = await npy(path.join(out, `${stem}_depth.npy`));
      expect(d.shape).toEqual([70, 84]); // the processed size, as inference() returns it
      expectArrayParity(d.data, ref.subarray(i * 70 * 84, (i + 1) * 70 * 84), `${stem} depth`);
    }
    // The colour image: the processed view, the band, the depth.
    expect(await sharp(path.join(out, 'image0_depth.png')).metadata()).toMatchObject({ width: 84 + 50 + 84, height: 70 });
    const cams = JSON.parse(await fs.readFile(path.join(out, 'cameras.json'), 'utf8'));
    expect(cams.views.map((v: { image: string; width: number; height: number }) => [v.image, v.width, v.height])).toEqual([['image0.png', 84, 70], ['image1.png', 84, 70]]);
    const ext = cams.views.flatMap((v: { extrinsics: number[][] }) => v.extrinsics.slice(0, 3).flat());
    expectArrayParity(Float32Array.from(ext), entryToFloat32(a.tensors.get('prediction.extrinsics')!), 'extrinsics');
    const exp = parseSafetensors(readFileSync(path.join(ANY, 'export.safetensors')), 'export.safetensors');
    const ply = decodePly(new Uint8Array(await fs.readFile(path.join(out, 'scene.ply'))));
    const refPoints = entryToFloat32(exp.tensors.get('glb.points')!);
    expect(ply.positions.length).toBe(refPoints.length);
    expectArrayParity(ply.positions, refPoints, 'scene.ply points');
    expect(Buffer.from(ply.colors).equals(Buffer.from(exp.tensors.get('glb.colors')!.bytes))).toBe(true);
    expect((await fs.readFile(path.join(out, 'scene.glb'))).subarray(0, 4).toString('latin1')).toBe('glTF');
  });

  test('a video sampled into views with --frame-step and --max-frames', async () => {
    const clip = path.join(dir, 'walk.mkv');
    execFileSync('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-loop', '1', '-framerate', '10', '-i', VIEWS[0], '-frames:v', '6', '-c:v', 'ffv1', clip]);
    const out = path.join(dir, 'out');
    const r = await run('predict', clip, '--weights', path.join(ANY, 'weights.safetensors'), '--multiview', '--frame-step', '2', '--max-frames', '2',
      '--input-size', '42', '--format', 'npy', '--backend', 'wasm', '--outdir', out);
    expect(r.err).toContain('scene of 2 views');
    expect(r.code).toBe(0);
    expect((await fs.readdir(out)).sort()).toEqual(['cameras.json', 'scene.glb', 'scene.ply', 'walk_000000_depth.npy', 'walk_000002_depth.npy']);
  });

  test('known cameras from --cameras: the scene keeps them (cameras.json holds the given extrinsics)', async () => {
    const third = path.join(dir, 'image2.png');
    await fs.copyFile(VIEWS[0], third);
    const pose = (tx: number, ty: number) => [[1, 0, 0, tx], [0, 1, 0, ty], [0, 0, 1, 0], [0, 0, 0, 1]];
    const extrinsics = [pose(0, 0), pose(-1, 0), pose(0, -1)];
    const K = [[120, 0, 75], [0, 120, 61], [0, 0, 1]];
    const cams = path.join(dir, 'cams.json');
    await fs.writeFile(cams, JSON.stringify({ extrinsics, intrinsics: [K, K, K] }));
    const out = path.join(dir, 'out');
    const r = await run('predict', ...VIEWS, third, '--weights', path.join(ANY, 'weights.safetensors'), '--multiview', '--cameras', cams,
      '--input-size', '42', '--format', 'npy', '--backend', 'wasm', '--outdir', out);
    expect(r.code).toBe(0);
    const got = JSON.parse(await fs.readFile(path.join(out, 'cameras.json'), 'utf8'));
    expect(got.views.map((v: { extrinsics: number[][] }) => v.extrinsics)).toEqual(extrinsics);
    // K scaled to the processed size: 150 x 122 -> 42 x 34 -> 42 x 28 (upper_bound_resize).
    expect(got.views[0].intrinsics[0][0]).toBeCloseTo((120 * 42) / 150, 4);
    expect(got.views[0].intrinsics[1][1]).toBeCloseTo(((120 * 34) / 122) * (28 / 34), 4);
  });

  test('bad input: one line each, nothing written', async () => {
    const out = path.join(dir, 'out');
    const any = ['--weights', path.join(ANY, 'weights.safetensors'), '--input-size', '42', '--backend', 'cpu', '--outdir', out, '--format', 'npy'];
    const broken = path.join(dir, 'broken.png');
    await fs.writeFile(broken, 'not a png');
    let r = await run('predict', VIEWS[0], broken, ...any, '--multiview');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/FAILED scene \(2 inputs\): .*broken\.png/);
    const cams = path.join(dir, 'cams.json');
    const eye = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
    await fs.writeFile(cams, JSON.stringify({ extrinsics: [eye], intrinsics: [[[100, 0, 75], [0, 100, 61], [0, 0, 1]]] }));
    r = await run('predict', ...VIEWS, ...any, '--multiview', '--cameras', cams);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`--cameras ${cams}: extrinsics: 1 matrices for 2 view(s); one 4x4 matrix per view expected`);
    await fs.writeFile(cams, JSON.stringify({ extrinsics: [eye, eye], intrinsics: [[[100, 0], [0, 100]], [[100, 0], [0, 100]]] }));
    r = await run('predict', ...VIEWS, ...any, '--multiview', '--cameras', cams);
    expect(r.err).toContain('intrinsics: each matrix is 2x2; 3x3 pinhole matrices expected');
    await fs.writeFile(cams, JSON.stringify({ poses: [] }));
    r = await run('predict', ...VIEWS, ...any, '--multiview', '--cameras', cams);
    expect(r.err).toContain(`--cameras ${cams}: expected {"extrinsics": [N][4][4]`);
    r = await run('predict', path.join(dir, 'empty*.png'), ...any, '--multiview');
    expect(r.code).toBe(1);
    expect(r.err).toContain('error: no images to process');
    r = await run('predict', path.join(MONO, 'image.png'), ...any, '--weights', path.join(MONO, 'weights.safetensors'), '--multiview');
    expect(r.err).toContain('FAILED scene');
    expect(r.err).toContain('--multiview needs an any-view Depth Anything 3 model');
    r = await run('predict', VIEWS[0], ...any, '--weights', path.join(FIXTURES, 'parity', 'v2-tiny', 'weights.safetensors'), '--multiview');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--multiview is for Depth Anything 3 any-view models .* is a Depth Anything V1\/V2 checkpoint/);
    r = await run('predict', VIEWS[0], ...VDA_WEIGHTS, '--outdir', out, '--process-res-method', 'lower_bound_crop');
    expect(r.err).toContain('--process-res-method is for Depth Anything 3 models');
    r = await run('predict', VIEWS[0], ...any, '--cameras', cams);
    expect(r.err).toContain('--cameras needs --multiview');
    // DA3NESTED-GIANT-LARGE keeps its two nets under model.da3 and model.da3_metric: not built, said in one line.
    const nested = path.join(dir, 'nested.safetensors');
    await fs.writeFile(nested, serializeSafetensors([{ name: 'model.da3.backbone.pretrained.pos_embed', shape: [1, 2], data: new Float32Array(2) },
      { name: 'model.da3_metric.backbone.pretrained.pos_embed', shape: [1, 2], data: new Float32Array(2) }]));
    r = await run('predict', VIEWS[0], ...any, '--weights', nested);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${nested} is DA3NESTED-GIANT-LARGE (DA3-GIANT and DA3METRIC-LARGE composed`);
    expect(await fs.readdir(out).catch(() => [])).toEqual([]);
  });
});

describe('Depth Anything 3: one image at a time (wasm)', () => {
  test('DA3MONO: the prediction\'s depth with the sky filled; DA3METRIC through --model: metres by focal x depth / 300', async () => {
    const out = path.join(dir, 'out');
    const image = path.join(MONO, 'image.png');
    let r = await run('predict', image, '--weights', path.join(MONO, 'weights.safetensors'), '--input-size', '112', '--format', 'npy,png16', '--backend', 'wasm', '--outdir', out);
    expect(r.err).toContain('monocular, process_res 112');
    expect(r.code).toBe(0);
    const ref = entryToFloat32(acts(MONO).tensors.get('prediction.depth')!);
    const d = await npy(path.join(out, 'image_depth.npy'));
    expect(d.shape).toEqual([70, 112]);
    expectArrayParity(d.data, ref, 'mono depth');

    await cache('da3metric-large', path.join(MONO, 'weights.safetensors'), path.join(MONO, 'config.json'));
    const metricOut = path.join(dir, 'metric');
    r = await run('predict', image, '--model', 'da3metric-large', '--input-size', '112', '--focal-length-x', '200', '--focal-length-y', '180',
      '--format', 'npy,ply', '--backend', 'wasm', '--outdir', metricOut);
    expect(r.err).toContain('da3metric-large (depth-anything/DA3METRIC-LARGE): weights licence Apache-2.0');
    expect(r.err).toContain('monocular metric');
    expect(r.code).toBe(0);
    // 150 x 98 -> 112 x 73 -> 112 x 70: the focal lengths scale with the image.
    const f = da3ProcessedFocal(150, 98, 200, 180, 112, 'upper_bound_resize');
    expect(f.fx).toBeCloseTo((200 * 112) / 150, 10);
    expect(f.fy).toBeCloseTo((180 * 70) / 98, 10);
    const metres = Float32Array.from(ref, (v) => (v * ((f.fx + f.fy) / 2)) / 300);
    expectArrayParity((await npy(path.join(metricOut, 'image_depth.npy'))).data, metres, 'metric depth');
    expect(decodePly(new Uint8Array(await fs.readFile(path.join(metricOut, 'image_pointcloud.ply')))).positions.length).toBe(70 * 112 * 3);
  });

  test('an any-view model through --model on one photo: a one-view scene\'s depth; a video without --multiview is refused', async () => {
    await cache('da3-small', path.join(ANY, 'weights.safetensors'), path.join(ANY, 'config.json'));
    const out = path.join(dir, 'out');
    const r = await run('predict', VIEWS[0], '--model', 'da3-small', '--input-size', '84', '--format', 'npy', '--backend', 'wasm', '--outdir', out);
    expect(r.err).toContain('da3-small (depth-anything/DA3-SMALL): weights licence Apache-2.0');
    expect(r.code).toBe(0);
    const d = await npy(path.join(out, 'image0_depth.npy'));
    expect(d.shape).toEqual([70, 84]);
    expect(d.data.every((v) => Number.isFinite(v) && v > 0)).toBe(true);
    // process_res need not be a multiple of 14 (150 x 122 -> 50 x 41 -> 56 x 42), unlike the other models' input size.
    const r50 = await run('predict', VIEWS[0], '--model', 'da3-small', '--input-size', '50', '--format', 'npy', '--backend', 'wasm', '--outdir', path.join(dir, 'r50'));
    expect(r50.code).toBe(0);
    expect((await npy(path.join(dir, 'r50', 'image0_depth.npy'))).shape).toEqual([42, 56]);
    const clip = path.join(dir, 'c.mkv');
    execFileSync('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-loop', '1', '-framerate', '10', '-i', VIEWS[0], '-frames:v', '2', '-c:v', 'ffv1', clip]);
    const r2 = await run('predict', clip, '--model', 'da3-small', '--format', 'npy', '--backend', 'cpu', '--outdir', path.join(dir, 'v'));
    expect(r2.err).toContain('process_res 504 upper_bound_resize'); // DA3's default, not the 518 of the other models
    expect(r2.code).toBe(1);
    expect(r2.err).toContain('Depth Anything 3 takes a video as views of one scene: add --multiview');
  });
});

describe('Video Depth Anything: a folder of frames is a clip (wasm)', () => {
  test('frames named f0..f65 (natural order) give the official offline pipeline\'s depth', async () => {
    const frames = path.join(dir, 'pan');
    await fs.mkdir(frames);
    for (let i = 0; i < 66; i++) await fs.symlink(path.join(VDA, 'vda-tiny-video', 'frames', `${String(i).padStart(3, '0')}.png`), path.join(frames, `f${i}.png`));
    const out = path.join(dir, 'out');
    const r = await run('predict', frames, ...VDA_WEIGHTS, '--input-size', '70', '--format', 'npy', '--backend', 'wasm', '--outdir', out);
    expect(r.code).toBe(0);
    expect(await fs.readdir(out)).toEqual(['pan_depth.npy']);
    const d = await npy(path.join(out, 'pan_depth.npy'));
    expect(d.shape).toEqual([66, 50, 60]);
    const ref = entryToFloat32(parseSafetensors(readFileSync(path.join(VDA, 'vda-tiny-video', 'pipeline.safetensors')), 'pipeline').tensors.get('depth')!);
    const hw = 50 * 60;
    const worst = Math.max(...Array.from({ length: 66 }, (_, i) => compareArrays(d.data.subarray(i * hw, (i + 1) * hw), ref.subarray(i * hw, (i + 1) * hw)).relL2));
    expect(worst).toBeLessThan(2e-5);
  });

  test('natural order; a frame of another size is refused by name before anything is written; a short clip; one photo; --model vda-small from the cache', async () => {
    expect(naturalSort(['f10.png', 'f2.png', 'f1.png', 'F3.png'])).toEqual(['f1.png', 'f2.png', 'F3.png', 'f10.png']);
    const frames = path.join(dir, 'clip');
    await fs.mkdir(frames);
    for (let i = 0; i < 3; i++) await fs.symlink(path.join(VDA, 'vda-tiny-stream', 'frames', `${String(i).padStart(3, '0')}.png`), path.join(frames, `${i}.png`));
    await fs.writeFile(path.join(frames, '3.png'), await sharp({ create: { width: 30, height: 20, channels: 3, background: '#808080' } }).png().toBuffer());
    await cache('vda-small', path.join(VDA, 'vda-tiny', 'weights.safetensors'));
    const out = path.join(dir, 'out');
    const args = ['--model', 'vda-small', '--config', path.join(VDA, 'vda-tiny', 'config.json'), '--input-size', '42', '--format', 'npy,color', '--backend', 'wasm', '--outdir', out];
    let r = await run('predict', frames, ...args);
    expect(r.err).toContain('vda-small (depth-anything/Video-Depth-Anything-Small): weights licence Apache-2.0');
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${path.join(frames, '3.png')}: frame 3 is 30x20, but the clip's first frame (0.png) is 64x48`);
    expect(await fs.readdir(out)).toEqual([]);
    // A clip shorter than a window (3 frames): the last frame repeated to fill it, as the official code does; every frame written.
    await fs.rm(path.join(frames, '3.png'));
    r = await run('predict', frames, ...args);
    expect(r.code).toBe(0);
    expect((await npy(path.join(out, 'clip_depth.npy'))).shape).toEqual([3, 48, 64]);
    // The folder in streaming mode: each frame is the official infer_video_depth_one depth.
    const stream = parseSafetensors(readFileSync(path.join(VDA, 'vda-tiny-stream', 'stream.safetensors')), 'stream');
    const frameRef = (i: number) => entryToFloat32(stream.tensors.get(`frame.${i}.depth`)!);
    r = await run('predict', frames, ...args, '--format', 'npy', '--streaming', '--outdir', path.join(dir, 'streamed'));
    expect(r.code).toBe(0);
    const streamed = await npy(path.join(dir, 'streamed', 'clip_depth.npy'));
    expect(streamed.shape).toEqual([3, 48, 64]);
    for (let i = 0; i < 3; i++) expect(compareArrays(streamed.data.subarray(i * 48 * 64, (i + 1) * 48 * 64), frameRef(i)).relL2).toBeLessThan(2e-5);
    // One photo (a file, not a folder): the first frame of a stream, T = 1, as the official streaming mode computes it.
    r = await run('predict', path.join(frames, '0.png'), ...args, '--format', 'npy');
    expect(r.code).toBe(0);
    const photo = await npy(path.join(out, '0_depth.npy'));
    expect(photo.shape).toEqual([48, 64]);
    expect(compareArrays(photo.data, frameRef(0)).relL2).toBeLessThan(2e-5);
  });
});

describe('official names and licences', () => {
  test('every DA3 and VDA release is a name with its repository, file and licence', () => {
    const expected: Record<string, [string, string, string]> = {
      'da3-small': ['depth-anything/DA3-SMALL', 'model.safetensors', 'Apache-2.0'],
      'da3-base': ['depth-anything/DA3-BASE', 'model.safetensors', 'Apache-2.0'],
      'da3-large': ['depth-anything/DA3-LARGE', 'model.safetensors', 'CC-BY-NC-4.0'],
      'da3-large-1.1': ['depth-anything/DA3-LARGE-1.1', 'model.safetensors', 'CC-BY-NC-4.0'],
      'da3-giant': ['depth-anything/DA3-GIANT', 'model.safetensors', 'CC-BY-NC-4.0'],
      'da3-giant-1.1': ['depth-anything/DA3-GIANT-1.1', 'model.safetensors', 'CC-BY-NC-4.0'],
      'da3mono-large': ['depth-anything/DA3MONO-LARGE', 'model.safetensors', 'Apache-2.0'],
      'da3metric-large': ['depth-anything/DA3METRIC-LARGE', 'model.safetensors', 'Apache-2.0'],
      'vda-small': ['depth-anything/Video-Depth-Anything-Small', 'video_depth_anything_vits.pth', 'Apache-2.0'],
      'vda-base': ['depth-anything/Video-Depth-Anything-Base', 'video_depth_anything_vitb.pth', 'CC-BY-NC-4.0'],
      'vda-large': ['depth-anything/Video-Depth-Anything-Large', 'video_depth_anything_vitl.pth', 'CC-BY-NC-4.0'],
      'vda-metric-small': ['depth-anything/Metric-Video-Depth-Anything-Small', 'metric_video_depth_anything_vits.pth', 'Apache-2.0'],
      'vda-metric-base': ['depth-anything/Metric-Video-Depth-Anything-Base', 'metric_video_depth_anything_vitb.pth', 'CC-BY-NC-4.0'],
      'vda-metric-large': ['depth-anything/Metric-Video-Depth-Anything-Large', 'metric_video_depth_anything_vitl.pth', 'CC-BY-NC-4.0'],
      'v2-small': ['depth-anything/Depth-Anything-V2-Small', 'depth_anything_v2_vits.pth', 'Apache-2.0'],
      'v2-large': ['depth-anything/Depth-Anything-V2-Large', 'depth_anything_v2_vitl.pth', 'CC-BY-NC-4.0'],
      'metric-indoor-small': ['depth-anything/Depth-Anything-V2-Metric-Hypersim-Small', 'depth_anything_v2_metric_hypersim_vits.pth', 'Apache-2.0'],
      'metric-outdoor-base': ['depth-anything/Depth-Anything-V2-Metric-VKITTI-Base', 'depth_anything_v2_metric_vkitti_vitb.pth', 'CC-BY-NC-4.0'],
    };
    for (const [name, [repo, file, licence]] of Object.entries(expected)) {
      expect({ name, ...OFFICIAL_MODELS[name as keyof typeof OFFICIAL_MODELS] }).toMatchObject({ name, repo, file, licence });
    }
    // The cache keeps each repository's model.safetensors apart.
    expect(new Set(Object.values(OFFICIAL_MODELS).map((m) => cachedPath(m, {}))).size).toBe(Object.keys(OFFICIAL_MODELS).length);
    expect(licenceLine('da3-giant')).toBe('da3-giant (depth-anything/DA3-GIANT): weights licence CC-BY-NC-4.0 (non-commercial use only)');
    expect(licenceLine('v1-small')).toMatch(/^v1-small \(spaces\/LiheYoung\/Depth-Anything\): weights licence Apache-2.0, the Depth Anything V1 repository's licence/);
  });

  test('download prints the licence before the path (from a local stand-in for the hub); --list names every model', async () => {
    const body = readFileSync(path.join(ANY, 'weights.safetensors'));
    const server = http.createServer((req, res) => {
      if (req.url !== '/depth-anything/DA3-BASE/resolve/main/model.safetensors') { res.writeHead(404); res.end(); return; }
      res.writeHead(200, { 'content-length': String(body.length) });
      res.end(body);
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    try {
      process.env[HUB_URL_ENV] = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const r = await run('download', 'da3-base');
      expect(r.code).toBe(0);
      expect(r.err.split('\n')[0]).toBe('da3-base (depth-anything/DA3-BASE): weights licence Apache-2.0');
      expect(r.out.trim()).toBe(cachedPath(OFFICIAL_MODELS['da3-base']));
      expect(readFileSync(r.out.trim()).equals(body)).toBe(true);
    } finally {
      await new Promise((ok) => server.close(ok));
    }
    const list = await run('download', '--list');
    expect(list.code).toBe(0);
    const lines = list.out.trim().split('\n');
    expect(lines.length).toBe(Object.keys(OFFICIAL_MODELS).length);
    expect(lines).toContain('vda-large\tCC-BY-NC-4.0\tdepth-anything/Video-Depth-Anything-Large/video_depth_anything_vitl.pth');
    const none = await run('download');
    expect(none.code).not.toBe(0);
    expect(none.err).toContain('missing model name');
  });
});
