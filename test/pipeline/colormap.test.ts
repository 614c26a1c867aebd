import { createHash } from 'crypto';
import { colormapTable, normalizeToUint8, applyColormap, COLORMAP_NAMES } from '../../src/pipeline/colormap';

// Reference rows [index, r, g, b] from matplotlib 3.6.3:
//   (matplotlib.colormaps[name](np.arange(256, dtype=np.uint8))[:, :3] * 255).astype(np.uint8)
// and the sha256 of the whole 256x3 table, so every entry is pinned.
const MPL = {
  spectral_r: {
    rows: [[0, 94, 79, 162], [1, 92, 81, 163], [17, 64, 117, 180], [25, 50, 134, 188], [26, 51, 137, 188], [51, 102, 194, 165], [102, 230, 245, 152], [127, 254, 254, 190], [128, 254, 254, 189], [153, 254, 224, 139], [204, 244, 109, 67], [230, 211, 60, 78], [254, 160, 3, 66], [255, 158, 1, 66]],
    sha256: 'f641ca89be9889926f69aa54e491aabf3f9cfdb5a61e116cb33cc13e9ca0a26a',
  },
  viridis: {
    rows: [[0, 68, 1, 84], [1, 68, 2, 85], [17, 72, 25, 107], [25, 72, 35, 116], [26, 71, 37, 117], [51, 64, 67, 135], [102, 41, 120, 142], [127, 32, 143, 140], [128, 32, 144, 140], [153, 34, 167, 132], [204, 121, 209, 81], [230, 189, 222, 38], [254, 250, 230, 34], [255, 253, 231, 36]],
    sha256: '96a1f6f37d4041f953def955ffb8b9ea2110a9b4e3c9b701182d48f7a9774c58',
  },
  inferno: {
    rows: [[0, 0, 0, 3], [1, 0, 0, 4], [17, 11, 7, 38], [25, 22, 11, 57], [26, 23, 11, 59], [51, 65, 9, 103], [102, 147, 37, 103], [127, 186, 54, 85], [128, 187, 55, 84], [153, 220, 80, 57], [204, 251, 164, 10], [230, 245, 215, 69], [254, 250, 253, 160], [255, 252, 254, 164]],
    sha256: '8092f65256023cefa85fe1136f4f398a2a9f35e9fdf414176b33cce639c44318',
  },
} as const;

describe('colour maps equal matplotlib byte for byte', () => {
  test.each(Object.keys(MPL) as Array<keyof typeof MPL>)('%s', (name) => {
    const lut = colormapTable(name);
    expect(lut.length).toBe(768);
    for (const [i, r, g, b] of MPL[name].rows) expect([i, lut[i * 3], lut[i * 3 + 1], lut[i * 3 + 2]]).toEqual([i, r, g, b]);
    expect(createHash('sha256').update(lut).digest('hex')).toBe(MPL[name].sha256);
  });
  test('grayscale is the level itself (the official --grayscale)', () => {
    const lut = colormapTable('grayscale');
    for (let i = 0; i < 256; i++) expect([lut[i * 3], lut[i * 3 + 1], lut[i * 3 + 2]]).toEqual([i, i, i]);
  });
  test('every listed name resolves; others are refused by name', () => {
    for (const n of COLORMAP_NAMES) expect(colormapTable(n).length).toBe(768);
    expect(() => colormapTable('jet' as never)).toThrow('unknown colour map "jet"; expected one of spectral_r, inferno, viridis, grayscale');
  });
});

describe('normalizeToUint8 = ((d - min) / (max - min) * 255.0).astype(np.uint8) on float32', () => {
  test('min -> 0, max -> 255, truncation in between', () => {
    const d = Float32Array.from([2, 4, 3, 2.5, 3.99]);
    // (1/2)*255 = 127.5 -> 127; (0.5/2)*255 = 63.75 -> 63; (1.99/2)*255 in float32 = 253.7... -> 253.
    expect(Array.from(normalizeToUint8(d))).toEqual([0, 255, 127, 63, 253]);
  });
  test('float32 arithmetic, not float64', () => {
    // Found with numpy: this row gives 220 in numpy's float32, 219 in float64.
    const d = Float32Array.from([0, 0.9102980494499207, 1.055118203163147]);
    expect(Math.trunc((d[1] / d[2]) * 255)).toBe(219);
    expect(normalizeToUint8(d)[1]).toBe(220);
  });
  test('a constant map gives zeros, not NaN', () => {
    expect(Array.from(normalizeToUint8(Float32Array.from([5, 5, 5])))).toEqual([0, 0, 0]);
  });
  test('applyColormap looks levels up', () => {
    expect(Array.from(applyColormap(Uint8Array.from([0, 255]), 'spectral_r'))).toEqual([94, 79, 162, 158, 1, 66]);
  });
});
