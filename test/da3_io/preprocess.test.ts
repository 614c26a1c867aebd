import { readFileSync } from 'fs';
import * as path from 'path';
import { decodeImage } from '../../src/node/image';
import { resizeAreaU8 } from '../../src/pipeline/resize_area';
import { resizeCubicU8 } from '../../src/pipeline/resize_cubic';
import { da3Preprocess, da3ProcessOne, Da3ProcessResMethod, roundHalfEven } from '../../src/pipeline/da3/preprocess';
import { RgbImage } from '../../src/pipeline/rgb';
import { compareArrays, PARITY_TOLERANCE } from '../../src/verify/compare';
import { DA3_IO_CASES, countDiff, f32, loadDa3Case } from './da3_fixtures';

describe('OpenCV 4.6 resizes on uint8 (oracle: tools/da3_opencv_oracle.py)', () => {
  const dir = path.join(__dirname, 'data');
  const cases = JSON.parse(readFileSync(path.join(dir, 'opencv_resize.json'), 'utf8')) as Array<{ w: number; h: number; ow: number; oh: number; interp: 'area' | 'cubic'; src: number; dst: number }>;
  const bin = new Uint8Array(readFileSync(path.join(dir, 'opencv_resize.bin')));
  test('INTER_AREA (integer-scale fast path, 2x2 rounding, generic weights) and INTER_CUBIC match byte for byte', () => {
    expect(cases.filter((c) => c.interp === 'area' && c.w % c.ow === 0 && c.h % c.oh === 0).length).toBeGreaterThanOrEqual(5);
    const wrong: string[] = [];
    for (const c of cases) {
      const src = bin.subarray(c.src, c.src + c.w * c.h * 3);
      const ref = bin.subarray(c.dst, c.dst + c.ow * c.oh * 3);
      const ours = c.interp === 'area' ? resizeAreaU8(src, c.w, c.h, 3, c.ow, c.oh) : resizeCubicU8(src, c.w, c.h, 3, c.ow, c.oh);
      const n = countDiff(ours, ref);
      if (n) wrong.push(`${c.interp} ${c.w}x${c.h}->${c.ow}x${c.oh}: ${n} bytes differ`);
    }
    expect(wrong).toEqual([]);
  });
});

describe('da3Preprocess reproduces InputProcessor', () => {
  test.each(DA3_IO_CASES)('%s: input from the PNG files, bit for bit', async (name) => {
    const c = loadDa3Case(name);
    const images = await Promise.all(c.config.inference.images.map((f) => decodeImage(path.join(c.dir, f))));
    const out = da3Preprocess(images, { processRes: c.config.inference.process_res, processResMethod: c.config.inference.process_res_method as Da3ProcessResMethod });
    const ref = f32(c.acts, 'input');
    expect([1, out.views, 3, out.height, out.width]).toEqual(c.acts.get('input')!.shape);
    expect([out.height, out.width]).toEqual(c.config.processed_hw);
    const cmp = compareArrays(out.input, ref);
    expect(cmp.relL2).toBeLessThanOrEqual(PARITY_TOLERANCE.relL2);
    // Every stage before the float32 normalisation is integer: the port is exact, not just close.
    expect(cmp.maxAbs).toBe(0);
    expect(out.extrinsics).toBeNull();
    expect(out.intrinsics).toBeNull();
  });
});

/** A smooth test image (gradients), w x h. */
function gradient(w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set([(x * 7) % 256, (y * 5) % 256, (x + y) % 256], (y * w + x) * 3);
  return { data, width: w, height: h };
}

describe('sizes, crops and intrinsics follow the official paths', () => {
  test('Python round() sends halves to even', () => {
    expect([0.5, 1.5, 2.5, 73.5, 74.5, -0.5].map(roundHalfEven)).toEqual([0, 2, 2, 74, 74, -0]);
  });

  test.each<[Da3ProcessResMethod, number, number, number, number, number]>([
    // method, processRes, w, h -> out w, out h
    ['upper_bound_resize', 84, 150, 122, 84, 70],
    ['upper_bound_crop', 84, 150, 122, 84, 56], // 84x68 -> floor to 84x56
    ['lower_bound_resize', 84, 150, 122, 98, 84], // 103x84 -> 98x84 (103 nearer 98 than 112)
    ['lower_bound_crop', 84, 150, 122, 98, 84],
    ['upper_bound_resize', 504, 1208, 680, 504, 280], // the official self-test sizes: 504x284 -> 504x280
    ['upper_bound_crop', 504, 504, 376, 504, 364], // docstring example 504x377 -> 504x364
  ])('%s at %i: %ix%i -> %ix%i', (method, res, w, h, ow, oh) => {
    const out = da3ProcessOne(gradient(w, h), { processRes: res, processResMethod: method });
    expect([out.width, out.height]).toEqual([ow, oh]);
  });

  test('known cameras: K scaled by each resize, shifted by the crops; extrinsics pass through as float32', () => {
    const k = [[100, 0, 75], [0, 110, 61], [0, 0, 1]];
    const e = [[1, 0, 0, 0.5], [0, 1, 0, -1], [0, 0, 1, 2], [0, 0, 0, 1]];
    // 150x122 -> 84x68 (upper bound) -> 84x56 (crop: top = (68 - 56) // 2 = 6).
    const out = da3Preprocess([gradient(150, 122)], { processRes: 84, processResMethod: 'upper_bound_crop' }, { extrinsics: [e], intrinsics: [k] });
    const sx = 84 / 150, sy = 68 / 122;
    expect(Array.from(out.intrinsics!)).toEqual([100 * sx, 0, 75 * sx, 0, 110 * sy, 61 * sy - 6, 0, 0, 1].map(Math.fround));
    expect(Array.from(out.extrinsics!)).toEqual(e.flat().map(Math.fround));
  });

  test('views of different sizes are centre-cropped to the smallest, cx and cy shifted', () => {
    const k = [[50, 0, 42], [0, 50, 35], [0, 0, 1]];
    const e = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
    const a = gradient(84, 70), b = gradient(70, 112);
    const opts = { processRes: 112, processResMethod: 'upper_bound_crop' } as const;
    // a: 84x70 -> 112x93 (cubic) -> 112x84 (crop top 4); b: 70x112 stays. Unified to 70x84.
    const oneA = da3ProcessOne(a, opts), oneB = da3ProcessOne(b, opts);
    expect([oneA.width, oneA.height, oneB.width, oneB.height]).toEqual([112, 84, 70, 112]);
    const out = da3Preprocess([a, b], opts, { extrinsics: [e, e], intrinsics: [k, k] });
    expect([out.width, out.height]).toEqual([70, 84]);
    // a: cx 42 * 112/84 - 21 (unify left), cy 35 * 93/70 - 4 (crop); b: cx 42, cy 35 - 14 (unify top).
    const K = Array.from(out.intrinsics!);
    expect([K[2], K[5], K[11], K[14]]).toEqual([42 * (112 / 84) - 21, 35 * (93 / 70) - 4, 42, 21].map(Math.fround));
    const norm = (v: number) => Math.fround(Math.fround(Math.fround(v / 255) - Math.fround(0.485)) / Math.fround(0.229));
    const hw = 70 * 84;
    expect(out.input[0]).toBe(norm(oneA.data[(0 * 112 + 21) * 3]));
    expect(out.input[3 * hw]).toBe(norm(oneB.data[(14 * 70 + 0) * 3]));
    expect(out.input.length).toBe(2 * 3 * hw);
  });
});
