/**
 * How many views fit (global attention over all views' tokens grows as the square of the views):
 * the parameter count behind the wasm estimate, the per-backend view counts at 504 that
 * docs/da3.md states, and the one-line refusal past them.
 */
import { readFileSync } from 'fs';
import * as path from 'path';
import { DA3_VARIANTS, Da3Config, da3ConfigFromJson } from '../../src/config/da3';
import { checkDa3Limits, da3ParameterCount, maxViews } from '../../src/da3/limits';
import { useBackend } from '../helpers';
import { DA3_FIXTURES } from './parity_suite';

const MiB = 2 ** 20;
const small = DA3_VARIANTS['da3-small'].config as Da3Config;

describe('Depth Anything 3 limits', () => {
  test.each(['da3-tiny-anyview', 'da3-tiny-mono'])('%s: the parameter count is the official model\'s (config.json weights.n_parameters)', (name) => {
    const json = JSON.parse(readFileSync(path.join(DA3_FIXTURES, name, 'config.json'), 'utf8'));
    expect(da3ParameterCount(da3ConfigFromJson(json, name))).toBe(json.weights.n_parameters);
  });

  test('views that fit DA3-SMALL at 504x504 (the table in docs/da3.md)', () => {
    const webgpu = (b: number) => maxViews(small, 504, 504, { backend: 'webgpu', maxBinding: b, maxBuffer: b });
    expect([webgpu(128 * MiB), webgpu(1024 * MiB), webgpu(2048 * MiB)]).toEqual([16, 134, 269]);
    expect([8192, 16384].map((t) => maxViews(small, 504, 504, { backend: 'webgl', maxTextureSize: t }))).toEqual([33, 134]);
    expect(maxViews(small, 504, 504, { backend: 'wasm', weightBytes: 4 * da3ParameterCount(small) })).toBe(17);
  });

  test('past them, one line before the pass: the tensor, the limit, how many views fit', async () => {
    await useBackend('wasm');
    const weightBytes = 4 * da3ParameterCount(small);
    expect(() => checkDa3Limits(small, 17, 504, 504, weightBytes)).not.toThrow();
    expect(() => checkDa3Limits(small, 64, 504, 504, weightBytes)).toThrow(/^64 views at 504x504 do not fit the wasm backend's 4 GiB memory: the weights twice \(0\.26 GiB, with XNNPACK's packed copies\), the token stream of 64 views and one view's head maps need about 11\.62 GiB; at most 17 views fit at 504x504; 64 views fit at 280x280 \(or use another backend\)$/);
    const large = DA3_VARIANTS['da3-large'].config as Da3Config;
    expect(() => checkDa3Limits(large, 1, 504, 504, 4 * da3ParameterCount(large))).toThrow(/^1 view at 504x504 does not fit .*; no view fits at 504x504; 1 view fits at 252x252 \(or use another backend\)$/);
    await useBackend('cpu');
    expect(() => checkDa3Limits(small, 1000, 504, 504, weightBytes)).not.toThrow(); // the machine's memory
  });
});
