import { decodeImage } from '../../src/node/image';
import { Da3InputError } from '../../src/pipeline/da3/errors';
import { da3Preprocess, Da3ProcessResMethod } from '../../src/pipeline/da3/preprocess';
import { RgbImage } from '../../src/pipeline/rgb';

const img = (w: number, h: number): RgbImage => ({ data: new Uint8Array(w * h * 3).fill(90), width: w, height: h });
const OPTS = { processRes: 56, processResMethod: 'upper_bound_resize' as const };
const I4 = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
const K = [[50, 0, 28], [0, 50, 28], [0, 0, 1]];

/** The error's message: one line, mentioning `what`. */
function oneLine(fn: () => unknown, what: RegExp): void {
  let err: unknown;
  try { fn(); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(Error);
  const msg = (err as Error).message;
  expect(msg).toMatch(what);
  expect(msg).not.toMatch(/\n/);
}

describe('bad input to the DA3 pipeline: one clear line each', () => {
  test('zero views', () => oneLine(() => da3Preprocess([], OPTS), /no views/));
  test('a view whose bytes do not match its size', () => oneLine(() => da3Preprocess([{ data: new Uint8Array(5), width: 4, height: 4 }], OPTS), /view 0.*48 expected/));
  test('unknown process_res_method or a bad process_res', () => {
    oneLine(() => da3Preprocess([img(60, 40)], { processRes: 56, processResMethod: 'bicubic' as Da3ProcessResMethod }), /processResMethod must be one of upper_bound_resize/);
    oneLine(() => da3Preprocess([img(60, 40)], { processRes: 0, processResMethod: 'upper_bound_resize' }), /processRes must be an integer/);
  });
  test('extrinsics without intrinsics (and the reverse)', () => {
    oneLine(() => da3Preprocess([img(60, 40)], OPTS, { extrinsics: [I4] }), /need both extrinsics and intrinsics.*only extrinsics/);
    oneLine(() => da3Preprocess([img(60, 40)], OPTS, { intrinsics: [K] }), /only intrinsics/);
  });
  test('camera arrays of the wrong count', () => {
    oneLine(() => da3Preprocess([img(60, 40), img(60, 40)], OPTS, { extrinsics: [I4], intrinsics: [K, K] }), /extrinsics: 1 matrices for 2 view/);
    oneLine(() => da3Preprocess([img(60, 40)], OPTS, { extrinsics: new Float32Array(15), intrinsics: new Float32Array(9) }), /extrinsics: 15 numbers for 1 view.*16 expected/);
    oneLine(() => da3Preprocess([img(60, 40)], OPTS, { extrinsics: [I4], intrinsics: new Float64Array(8) }), /intrinsics: 8 numbers/);
  });
  test('camera arrays of the wrong shape', () => {
    oneLine(() => da3Preprocess([img(60, 40)], OPTS, { extrinsics: [[[1, 0, 0], [0, 1, 0], [0, 0, 1]]], intrinsics: [K] }), /extrinsics: each matrix is 3x3; world-to-camera 4x4/);
    oneLine(() => da3Preprocess([img(60, 40)], OPTS, { extrinsics: [I4], intrinsics: [I4] }), /intrinsics: each matrix is 4x4; 3x3/);
    oneLine(() => da3Preprocess([img(60, 40)], OPTS, { extrinsics: [I4], intrinsics: [[[1, 0, 0], [0, 1], [0, 0, 1]]] }), /intrinsics\[0\] is not 3x3/);
    oneLine(() => da3Preprocess([img(60, 40)], OPTS, { extrinsics: [I4], intrinsics: [[[NaN, 0, 0], [0, 1, 0], [0, 0, 1]]] }), /not a finite number/);
  });
  test('3x4 extrinsics are accepted (padded with 0 0 0 1)', () => {
    const out = da3Preprocess([img(60, 40)], OPTS, { extrinsics: [I4.slice(0, 3)], intrinsics: [K] });
    expect(Array.from(out.extrinsics!)).toEqual(I4.flat());
  });
  test('a view too small for one patch', () => oneLine(() => da3Preprocess([img(300, 2)], { processRes: 56, processResMethod: 'upper_bound_crop' }), /smaller than one 14-pixel patch/));
  test('errors are Da3InputError', () => expect(() => da3Preprocess([], OPTS)).toThrow(Da3InputError));
  test('an undecodable image: one line naming the file', async () => {
    const err = await decodeImage(new TextEncoder().encode('not an image at all'), 'photo.png').catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^photo\.png: /);
    expect((err as Error).message).not.toMatch(/\n/);
  });
});
