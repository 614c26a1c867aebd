/**
 * The offline pipeline's window against wasm's heap (src/vda/limits.ts): refused before it starts
 * (past the ceiling tfjs-wasm's allocator stalls instead of failing), with what fits; never on
 * other backends; the fixture windows pass.
 */
import { vdaConfig } from '../../src/config/vda';
import { checkVdaWindow, vdaWindowBytes } from '../../src/vda/limits';
import { useBackend } from '../helpers';

const S = vdaConfig('vits', false);
const WEIGHTS_S = 4 * 28.4e6;
const MiB = 2 ** 20;

describe('on wasm', () => {
  beforeAll(async () => { await useBackend('wasm'); });

  test('the estimate is the measured window, scaled by frames, pixels and the head\'s width', () => {
    expect(vdaWindowBytes(S, 32, 266, 392)).toBe(1976 * MiB);
    expect(vdaWindowBytes(S, 16, 532, 392)).toBe(1976 * MiB);
    expect(vdaWindowBytes(vdaConfig('vitl', false), 32, 266, 392)).toBe(4 * 1976 * MiB);
  });

  test('VDA-S at 518 (a 3:2 clip) is refused in one line naming the size that fits and --streaming', () => {
    expect(() => checkVdaWindow(S, WEIGHTS_S, 32, 518, 770, 518)).toThrow(
      /^a window of 32 frames at 770x518 needs about 7\.4 GiB of tensors, past the 3\.2 GiB that wasm's 4 GiB memory leaves beside the weights; use --streaming \(one frame at a time\), --input-size (\d+) or less, or another backend \(cpu, webgpu, tensorflow\)$/);
    const fits = Number(/--input-size (\d+)/.exec((() => { try { checkVdaWindow(S, WEIGHTS_S, 32, 518, 770, 518); } catch (e) { return (e as Error).message; } return ''; })())![1]);
    expect(fits % 14).toBe(0);
    // The size it names passes; one patch more does not.
    const at = (s: number) => () => checkVdaWindow(S, WEIGHTS_S, 32, s, Math.round((770 * s) / 518), s);
    expect(at(fits)).not.toThrow();
    expect(at(fits + 14)).toThrow(/a window of 32 frames/);
    // The tiny fixture windows and a short clip at 266 pass.
    expect(() => checkVdaWindow(S, WEIGHTS_S, 32, 266, 392, 266)).not.toThrow();
    expect(() => checkVdaWindow(S, 1e6, 16, 112, 154, 112)).not.toThrow();
  });
});

test('off wasm it is a no-op (cpu)', async () => {
  await useBackend('cpu');
  expect(() => checkVdaWindow(S, WEIGHTS_S, 32, 518, 770, 518)).not.toThrow();
});
