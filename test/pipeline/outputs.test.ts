import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { decodeNpy } from '../../src/io/npy';
import { decodePly } from '../../src/io/ply';
import {
  depthToNpy, depthToUint16, depthToPng16, colorizeDepth, rgbToPng, sideBySide, depthToPointCloud,
  pointCloudToPly, writeOutputFile, OutputError, SPLIT_WIDTH,
} from '../../src/node/outputs';
import { DepthMap } from '../../src/pipeline/postprocess';

const rel = (data: number[], width: number, height: number): DepthMap => ({ data: Float32Array.from(data), width, height, metric: false });
const met = (data: number[], width: number, height: number): DepthMap => ({ ...rel(data, width, height), metric: true });

async function readPng16(png: Uint8Array): Promise<{ values: number[]; depth?: string; channels?: number }> {
  const md = await sharp(png).metadata();
  const { data } = await sharp(png).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
  return { values: Array.from(new Uint16Array(data.buffer, data.byteOffset, data.length / 2)), depth: md.depth, channels: md.channels };
}

let dir: string;
beforeEach(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'da-out-')); });
afterEach(async () => { await fs.rm(dir, { recursive: true, force: true }); });

describe('.npy', () => {
  test('float32 [height, width], header readable by numpy', () => {
    const d = rel([1.5, -2, 3.25, 1e-8, 7, 8], 3, 2);
    const bytes = depthToNpy(d);
    const header = Buffer.from(bytes.subarray(0, 128)).toString('latin1');
    expect(header.startsWith('\x93NUMPY\x01\x00')).toBe(true);
    expect(header).toContain("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
    const hlen = bytes[8] | (bytes[9] << 8);
    expect((10 + hlen) % 64).toBe(0);
    expect(bytes[10 + hlen - 1]).toBe(0x0a);
    const back = decodeNpy(bytes);
    expect(back.shape).toEqual([2, 3]);
    expect(back.data).toEqual(d.data);
  });
});

describe('16-bit PNG', () => {
  test('relative depth: min-max to 0..65535', async () => {
    const png = await depthToPng16(rel([2, 4, 3, 2.5], 2, 2));
    const r = await readPng16(png);
    expect([r.depth, r.channels]).toEqual(['ushort', 1]);
    expect(r.values).toEqual([0, 65535, 32768, 16384]); // 0.5 * 65535 = 32767.5 -> 32768; 0.25 -> 16383.75 -> 16384
  });
  test('metric depth: millimetres, clamped to 65535', async () => {
    const r = await readPng16(await depthToPng16(met([0.0004, 1.2345, 65.535, 80, -1, 0.0016], 3, 2)));
    expect(r.values).toEqual([0, 1235, 65535, 65535, 0, 2]);
  });
  test('a constant relative map is all zeros', () => {
    expect(Array.from(depthToUint16(rel([3, 3], 2, 1)))).toEqual([0, 0]);
  });
});

describe('colour PNG', () => {
  test('Spectral_r endpoints: far (min) is purple, near (max) is red', async () => {
    const png = await rgbToPng(colorizeDepth(rel([0, 1, 0.5], 3, 1)));
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([3, 1, 3]);
    expect(Array.from(data)).toEqual([94, 79, 162, 158, 1, 66, 254, 254, 190]); // level 127 in the middle
  });
  test('other maps by name', () => {
    expect(Array.from(colorizeDepth(rel([0, 1], 2, 1), 'inferno').data)).toEqual([0, 0, 3, 252, 254, 164]);
    expect(Array.from(colorizeDepth(rel([0, 1], 2, 1), 'grayscale').data)).toEqual([0, 0, 0, 255, 255, 255]);
  });
});

describe('side by side (official run.py without --pred-only)', () => {
  test('input, a 50-px white band, depth', () => {
    const image = { data: Uint8Array.from({ length: 2 * 2 * 3 }, (_, i) => i + 1), width: 2, height: 2 };
    const depth = colorizeDepth(rel([0, 1, 1, 0], 2, 2));
    const s = sideBySide(image, depth);
    expect([s.width, s.height]).toEqual([2 + SPLIT_WIDTH + 2, 2]);
    expect(SPLIT_WIDTH).toBe(50);
    const px = (x: number, y: number) => Array.from(s.data.subarray((y * s.width + x) * 3, (y * s.width + x) * 3 + 3));
    expect(px(1, 1)).toEqual([10, 11, 12]);
    for (const x of [2, 27, 51]) expect(px(x, 0)).toEqual([255, 255, 255]);
    expect(px(52, 0)).toEqual([94, 79, 162]);
    expect(px(53, 0)).toEqual([158, 1, 66]);
  });
  test('heights must agree', () => {
    const a = { data: new Uint8Array(12), width: 2, height: 2 };
    const b = { data: new Uint8Array(6), width: 2, height: 1 };
    expect(() => sideBySide(a, b)).toThrow('side-by-side: image is 2 px high but depth 1');
  });
});

describe('point cloud (official depth_to_pointcloud.py)', () => {
  test('x = (u - w/2) / fx * z, y = (v - h/2) / fy * z, coloured by the image; PLY header and count', () => {
    const w = 4, h = 3;
    const depth = met(Array.from({ length: w * h }, (_, i) => 1 + i), w, h);
    const image = { data: Uint8Array.from({ length: w * h * 3 }, (_, i) => i), width: w, height: h };
    const cloud = depthToPointCloud(depth, image, { fx: 2, fy: 4 });
    const ply = pointCloudToPly(cloud);
    const back = decodePly(ply);
    expect(back.header).toEqual([
      'ply', 'format binary_little_endian 1.0', 'comment depth-anything-tfjs', `element vertex ${w * h}`,
      'property float x', 'property float y', 'property float z',
      'property uchar red', 'property uchar green', 'property uchar blue', 'end_header',
    ]);
    expect(back.positions.length).toBe(w * h * 3);
    const i = 1 * w + 3; // u = 3, v = 1, z = 8
    expect(Array.from(back.positions.subarray(i * 3, i * 3 + 3))).toEqual([((3 - 2) / 2) * 8, ((1 - 1.5) / 4) * 8, 8]);
    expect(Array.from(back.colors.subarray(i * 3, i * 3 + 3))).toEqual([21, 22, 23]);
  });
  test('relative depth and bad focal lengths are refused', () => {
    const img = { data: new Uint8Array(3), width: 1, height: 1 };
    expect(() => depthToPointCloud(rel([1], 1, 1), img, { fx: 1, fy: 1 })).toThrow('a point cloud needs metric depth');
    expect(() => depthToPointCloud(met([1], 1, 1), img, { fx: 0, fy: 1 })).toThrow('focal lengths must be positive, got fx=0, fy=1');
  });
});

describe('writeOutputFile', () => {
  test('writes, then replaces a file of the same kind, leaving no temporary file', async () => {
    const f = path.join(dir, 'd.npy');
    await writeOutputFile(f, depthToNpy(rel([1], 1, 1)), 'npy');
    await writeOutputFile(f, depthToNpy(rel([2, 3], 2, 1)), 'npy');
    expect(decodeNpy(await fs.readFile(f)).data).toEqual(Float32Array.from([2, 3]));
    expect(await fs.readdir(dir)).toEqual(['d.npy']);
  });
  test('refuses to overwrite a file of another type (e.g. the input photo) or a folder', async () => {
    const photo = path.join(dir, 'photo.png');
    await fs.writeFile(photo, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3])); // a JPEG named .png
    await expect(writeOutputFile(photo, await rgbToPng({ data: new Uint8Array(3), width: 1, height: 1 }), 'png'))
      .rejects.toThrow(`${photo} exists and is not a png file; refusing to overwrite it`);
    expect(Array.from(await fs.readFile(photo))).toEqual([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);
    await fs.mkdir(path.join(dir, 'x.ply'));
    await expect(writeOutputFile(path.join(dir, 'x.ply'), new Uint8Array(1), 'ply')).rejects.toThrow(OutputError);
    expect((await fs.readdir(dir)).sort()).toEqual(['photo.png', 'x.ply']);
  });
  test('a failed write leaves neither the target nor a temporary file', async () => {
    await expect(writeOutputFile(path.join(dir, 'missing-folder', 'a.npy'), new Uint8Array(1), 'npy')).rejects.toThrow(/cannot write .*a\.npy/);
    expect(await fs.readdir(dir)).toEqual([]);
  });
});
