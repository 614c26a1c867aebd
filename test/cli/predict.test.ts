import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { runCli as run } from './run_cli';
import { decodeNpy } from '../../src/io/npy';
import { decodePly } from '../../src/io/ply';
import { parseSafetensors, entryToFloat32 } from '../../src/io/safetensors';
import { expandInputs, parseFormats } from '../../src/cli/predict';

const FIXTURES = path.resolve(__dirname, '../../../shared/fixtures');
const FULL = path.join(FIXTURES, 'parity/v2-vits-full');
const tiny = (name: string) => ['--weights', path.join(FIXTURES, 'parity', name, 'weights.safetensors'), '--config', path.join(FIXTURES, 'parity', name, 'config.json')];
const SMALL = ['--input-size', '28', '--backend', 'cpu'];


const png = (w: number, h: number, seed = 1) =>
  sharp(Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 31 * seed + (i >> 5)) % 256), { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();

let dir: string;
beforeEach(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'da-predict-')); });
afterEach(async () => { await fs.rm(dir, { recursive: true, force: true }); });

describe('predict end to end (full ViT-S, wasm)', () => {
  test('demo01.jpg -> depth at the photo size within rel L2 2e-5 of the official', async () => {
    const out = path.join(dir, 'out');
    const { code, err } = await run('predict', path.join(FULL, 'demo01.jpg'), '--weights', path.join(FULL, 'weights.safetensors'), '--outdir', out, '--format', 'npy', '--backend', 'wasm');
    expect(err).toContain('backend: wasm');
    expect(code).toBe(0);
    const ours = decodeNpy(await fs.readFile(path.join(out, 'demo01_depth.npy')));
    const ref = parseSafetensors(await fs.readFile(path.join(FULL, 'depth_original_size.safetensors'))).tensors.get('depth')!;
    expect(ours.shape).toEqual(ref.shape); // [1362, 2048]
    const r = entryToFloat32(ref);
    let d2 = 0, r2 = 0;
    for (let i = 0; i < r.length; i++) { const e = ours.data[i] - r[i]; d2 += e * e; r2 += r[i] * r[i]; }
    const relL2 = Math.sqrt(d2 / r2);
    process.stdout.write(`e2e demo01 rel L2 ${relL2.toExponential(3)}\n`);
    expect(relL2).toBeLessThanOrEqual(2e-5);
  });
});

describe('predict outputs (tiny random models, cpu)', () => {
  test('every format, read back: npy, 16-bit PNG in mm, colour endpoints, PLY', async () => {
    await fs.writeFile(path.join(dir, 'photo.png'), await png(9, 7));
    const out = path.join(dir, 'out');
    const { code, err } = await run('predict', path.join(dir, 'photo.png'), ...tiny('v2-tiny-metric'), ...SMALL, '--outdir', out,
      '--format', 'npy,png16,color,ply', '--pred-only', '--focal-length-x', '10', '--focal-length-y', '20');
    expect(err).toMatch(/\[1\/1\] .*photo\.png -> .*photo_depth\.npy, .*photo_depth16\.png, .*photo_depth\.png, .*photo_pointcloud\.ply \(\d+\.\d\d s\)/);
    expect(err).toMatch(/done: 1 written, 0 failed/);
    expect(code).toBe(0);
    expect((await fs.readdir(out)).sort()).toEqual(['photo_depth.npy', 'photo_depth.png', 'photo_depth16.png', 'photo_pointcloud.ply']);

    const { data: depth, shape } = decodeNpy(await fs.readFile(path.join(out, 'photo_depth.npy')));
    expect(shape).toEqual([7, 9]);
    expect(depth.every((v) => v > 0 && v < 20)).toBe(true); // metres, sigmoid x 20

    const p16 = path.join(out, 'photo_depth16.png');
    expect((await sharp(p16).metadata()).depth).toBe('ushort');
    const raw16 = await sharp(p16).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer();
    const mm = new Uint16Array(raw16.buffer, raw16.byteOffset, raw16.length / 2);
    expect(Array.from(mm)).toEqual(Array.from(depth, (v) => Math.round(v * 1000)));

    const col = await sharp(path.join(out, 'photo_depth.png')).raw().toBuffer({ resolveWithObject: true });
    expect([col.info.width, col.info.height, col.info.channels]).toEqual([9, 7, 3]);
    const argmin = depth.indexOf(Math.min(...depth)), argmax = depth.indexOf(Math.max(...depth));
    expect(Array.from(col.data.subarray(argmin * 3, argmin * 3 + 3))).toEqual([94, 79, 162]); // Spectral_r far end
    expect(Array.from(col.data.subarray(argmax * 3, argmax * 3 + 3))).toEqual([158, 1, 66]); // near end

    const ply = decodePly(await fs.readFile(path.join(out, 'photo_pointcloud.ply')));
    expect(ply.header).toContain('element vertex 63');
    expect(ply.positions.length).toBe(63 * 3);
    const i = 2 * 9 + 8; // u = 8, v = 2
    expect(ply.positions[i * 3 + 2]).toBe(depth[i]);
    expect(ply.positions[i * 3]).toBeCloseTo(((8 - 4.5) / 10) * depth[i], 5);
    expect(ply.positions[i * 3 + 1]).toBeCloseTo(((2 - 3.5) / 20) * depth[i], 5);
  });

  test('default: the official side-by-side colour image (input, 50 px white, depth)', async () => {
    await fs.writeFile(path.join(dir, 'a.png'), await png(8, 5));
    const { code } = await run('predict', path.join(dir, 'a.png'), ...tiny('v2-tiny'), ...SMALL, '--outdir', dir);
    expect(code).toBe(0);
    const img = await sharp(path.join(dir, 'a_depth.png')).raw().toBuffer({ resolveWithObject: true });
    expect([img.info.width, img.info.height]).toEqual([8 + 50 + 8, 5]);
    const input = await sharp(path.join(dir, 'a.png')).raw().toBuffer();
    expect(Array.from(img.data.subarray(0, 24))).toEqual(Array.from(input.subarray(0, 24)));
    expect(Array.from(img.data.subarray(8 * 3, 58 * 3)).every((v) => v === 255)).toBe(true);
  });

  test('--grayscale: depth levels as grey', async () => {
    await fs.writeFile(path.join(dir, 'g.png'), await png(6, 6));
    const { code } = await run('predict', path.join(dir, 'g.png'), ...tiny('v2-tiny'), ...SMALL, '--outdir', dir, '--grayscale', '--pred-only');
    expect(code).toBe(0);
    const { data } = await sharp(path.join(dir, 'g_depth.png')).raw().toBuffer({ resolveWithObject: true });
    for (let p = 0; p < 36; p++) expect(data[p * 3]).toBe(data[p * 3 + 1]);
    expect(Math.min(...data)).toBe(0);
    expect(Math.max(...data)).toBe(255);
  });

  test('a batch with one corrupt file: the others are written, the error is reported, exit 1', async () => {
    const inDir = path.join(dir, 'in');
    await fs.mkdir(path.join(inDir, 'sub'), { recursive: true });
    await fs.writeFile(path.join(inDir, 'one.png'), await png(5, 4));
    await fs.writeFile(path.join(inDir, 'sub', 'two.png'), await png(4, 5, 2));
    await fs.writeFile(path.join(inDir, 'broken.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 1, 2, 3]));
    await fs.writeFile(path.join(inDir, 'notes.txt'), 'not an image, not looked at');
    const out = path.join(dir, 'out');
    const { code, err } = await run('predict', inDir, ...tiny('v2-tiny'), ...SMALL, '--outdir', out, '--format', 'npy');
    expect(code).toBe(1);
    expect(err).toMatch(/FAILED .*broken\.jpg: cannot decode image/);
    expect(err).toMatch(/done: 2 written, 1 failed/);
    expect((await fs.readdir(out, { recursive: true })).sort()).toEqual(['one_depth.npy', 'sub', path.join('sub', 'two_depth.npy')]);
  });

  test('an output never replaces an input or a file of another type', async () => {
    await fs.writeFile(path.join(dir, 'x.png'), await png(4, 4));
    await fs.writeFile(path.join(dir, 'x_depth.png'), await png(3, 3)); // an input that x's output would overwrite
    await fs.writeFile(path.join(dir, 'y.png'), await png(4, 4));
    await fs.writeFile(path.join(dir, 'y_depth.npy'), 'some text file');
    const before = await fs.readFile(path.join(dir, 'x_depth.png'));
    const { code, err } = await run('predict', path.join(dir, 'x.png'), path.join(dir, 'x_depth.png'), path.join(dir, 'y.png'), ...tiny('v2-tiny'), ...SMALL,
      '--outdir', dir, '--format', 'color,npy');
    expect(code).toBe(1);
    expect(err).toContain(`output ${path.join(dir, 'x_depth.png')} would replace an input image`);
    expect(err).toContain(`${path.join(dir, 'y_depth.npy')} exists and is not a npy file; refusing to overwrite it`);
    expect(await fs.readFile(path.join(dir, 'x_depth.png'))).toEqual(before);
    expect(await fs.readFile(path.join(dir, 'y_depth.npy'), 'utf8')).toBe('some text file');
  });

  test('ply with a relative model, unknown formats and bad sizes are usage errors', async () => {
    await fs.writeFile(path.join(dir, 'a.png'), await png(4, 4));
    const out = path.join(dir, 'out');
    const ply = await run('predict', path.join(dir, 'a.png'), ...tiny('v2-tiny'), ...SMALL, '--outdir', out, '--format', 'ply');
    expect(ply.code).toBe(1);
    expect(ply.err).toContain('--format ply needs a metric model');
    const fmt = await run('predict', path.join(dir, 'a.png'), ...tiny('v2-tiny'), '--format', 'npy,tiff');
    expect(fmt.code).toBe(1);
    expect(fmt.err).toContain('unknown format "tiff"; choose from npy, png16, color, ply');
    const size = await run('predict', path.join(dir, 'a.png'), ...tiny('v2-tiny'), '--input-size', '500');
    expect(size.code).toBe(1);
    expect(size.err).toContain('input size must be a positive multiple of 14 (e.g. 518), got 500');
    const none = await run('predict', path.join(dir, 'nothing-*.jpg'), ...tiny('v2-tiny'));
    expect(none.code).toBe(1);
    expect(none.err).toContain('no images to process');
    await expect(fs.readdir(out)).rejects.toThrow();
  });

  test('1x1 and 8000x6000 images', async () => {
    await fs.writeFile(path.join(dir, 'dot.png'), await png(1, 1));
    await fs.writeFile(path.join(dir, 'big.jpg'), await sharp({ create: { width: 8000, height: 6000, channels: 3, background: { r: 40, g: 90, b: 200 } } }).jpeg().toBuffer());
    const out = path.join(dir, 'out');
    const { code, err } = await run('predict', path.join(dir, 'dot.png'), path.join(dir, 'big.jpg'), ...tiny('v2-tiny'), '--input-size', '14', '--backend', 'cpu', '--outdir', out, '--format', 'npy');
    expect(err).toMatch(/done: 2 written, 0 failed/);
    expect(code).toBe(0);
    expect(decodeNpy(await fs.readFile(path.join(out, 'dot_depth.npy'))).shape).toEqual([1, 1]);
    expect(decodeNpy(await fs.readFile(path.join(out, 'big_depth.npy'))).shape).toEqual([6000, 8000]);
  });
});

describe('helpers', () => {
  test('expandInputs: files, folders (recursive, images only) and globs; unmatched named', async () => {
    await fs.mkdir(path.join(dir, 'f', 'deep'), { recursive: true });
    for (const f of ['a.JPG', 'b.png', 'deep/c.webp', 'd.txt']) await fs.writeFile(path.join(dir, 'f', f), 'x');
    const r = await expandInputs([path.join(dir, 'f'), path.join(dir, 'f', 'b.png'), `${dir}/f/*.png`, path.join(dir, 'missing.jpg')]);
    expect(r.inputs.map((i) => [path.relative(dir, i.file), i.stem])).toEqual([['f/a.JPG', 'a'], ['f/b.png', 'b'], ['f/deep/c.webp', 'deep/c']]);
    expect(r.unmatched).toEqual([path.join(dir, 'missing.jpg')]);
  });
  test('parseFormats', () => {
    expect(parseFormats('npy, color,npy')).toEqual(['npy', 'color']);
    expect(() => parseFormats('')).toThrow('unknown format (empty)');
  });
});
