/**
 * The offline pipeline's window against wasm's heap (src/vda/limits.ts): refused before it starts
 * (past the ceiling tfjs-wasm's allocator stalls instead of failing), with what fits; never on
 * other backends; VDA-S at the default 518 passes (its window runs in pieces), the fixture windows too.
 */
import { setBandBudgetForTesting } from '../../src/backends/limits';
import { vdaConfig } from '../../src/config/vda';
import { checkVdaWindow, vdaWindowBytes } from '../../src/vda/limits';
import { useBackend } from '../helpers';

const S = vdaConfig('vits', false);
const B = vdaConfig('vitb', false);
const L = vdaConfig('vitl', false);
/** Float32 bytes of the released checkpoints (about 29.0M, 113M and 382M parameters). */
const WEIGHTS_S = 4 * 29.0e6, WEIGHTS_B = 4 * 113e6, WEIGHTS_L = 4 * 382e6;
const MiB = 2 ** 20;
const message = (f: () => void): string => { try { f(); } catch (e) { return (e as Error).message; } return ''; };

afterEach(() => setBandBudgetForTesting(undefined));

describe('on wasm', () => {
  beforeAll(async () => { await useBackend('wasm'); });

  test('the estimate: the measured window scaled by frames, pixels and the head\'s width, plus two pieces of the budget', () => {
    expect(vdaWindowBytes(S, 32, 126, 224)).toBe(42 * MiB + 1024 * MiB);
    expect(vdaWindowBytes(S, 16, 252, 224)).toBe(42 * MiB + 1024 * MiB);
    expect(vdaWindowBytes(L, 32, 126, 224)).toBe(4 * 42 * MiB + 1024 * MiB);
    setBandBudgetForTesting(16 * MiB);
    expect(vdaWindowBytes(S, 32, 126, 224)).toBe(74 * MiB);
  });

  test('VDA-S at 518 passes: 3:2 (518x770), 16:9 (518x924) and 9:16 clips', () => {
    expect(() => checkVdaWindow(S, WEIGHTS_S, 32, 518, 770, 518)).not.toThrow();
    expect(() => checkVdaWindow(S, WEIGHTS_S, 32, 518, 924, 518)).not.toThrow();
    expect(() => checkVdaWindow(S, WEIGHTS_S, 32, 924, 518, 518)).not.toThrow();
    expect(() => checkVdaWindow(B, WEIGHTS_B, 32, 518, 924, 518)).not.toThrow();
    expect(() => checkVdaWindow(S, 1e6, 16, 112, 154, 112)).not.toThrow();
  });

  test('VDA-B at 770 on a 16:9 clip is refused in one line naming the size that fits and --streaming', () => {
    const at = (s: number) => () => checkVdaWindow(B, WEIGHTS_B, 32, s, Math.round((1372 * s) / 770), s);
    expect(message(at(770))).toMatch(
      /^a window of 32 frames at 1372x770 needs about 4\.1 GiB of tensors, past the 2\.6 GiB that wasm's 4 GiB memory leaves beside the weights; use --streaming \(one frame at a time\), --input-size (\d+) or less, or another backend \(cpu, webgpu, tensorflow\)$/);
    const fits = Number(/--input-size (\d+)/.exec(message(at(770)))![1]);
    expect(fits % 14).toBe(0);
    // The size it names passes; one patch more does not.
    expect(at(fits)).not.toThrow();
    expect(at(fits + 14)).toThrow(/a window of 32 frames/);
  });

  test('VDA-L, whose weights leave too little room for any window, is refused with --streaming and no size', () => {
    expect(message(() => checkVdaWindow(L, WEIGHTS_L, 32, 518, 924, 518))).toMatch(/^a window of 32 frames at 924x518 needs about 3\.8 GiB of tensors, past the 0\.6 GiB .*; use --streaming \(one frame at a time\), or another backend/);
  });
});

test('off wasm it is a no-op (cpu)', async () => {
  await useBackend('cpu');
  expect(() => checkVdaWindow(L, WEIGHTS_L, 32, 518, 924, 518)).not.toThrow();
});
