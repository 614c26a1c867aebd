/**
 * wasm's 4 GiB (src/backends/wasm_memory.ts): passes that cannot fit are refused before they start, with
 * the largest size that may fit; weights that cannot be held are refused before binding; and a
 * pass that runs out anyway ends in one sentence, not a wasm trap from deep inside tfjs.
 */
import { execFile } from 'child_process';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { VARIANTS } from '../../src/config/depth';
import { StateDict } from '../../src/weights/state_dict';
import { WASM_MAX_HEAP, checkWasmWeights, wasmAbortError } from '../../src/backends/wasm_memory';
import { checkWasmMemory } from '../../src/depth/limits';
import { useBackend } from '../helpers';

const VITL = VARIANTS['v2-vitl'];
const VITL_BYTES = 4 * 335.3e6;

describe('on wasm', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  test('a pass is refused when the weights twice and its largest tensor exceed 4 GiB, with a size that may fit', () => {
    expect(() => checkWasmMemory(VITL, VITL_BYTES, 518, 518)).not.toThrow();
    expect(() => checkWasmMemory(VITL, VITL_BYTES, 2002, 2002)).toThrow(
      // The head's full-resolution stage runs in bands (at most 512 MiB a tensor), so one head's scores decide: 4 x 20450^2 bytes.
      "input 2002x2002 does not fit the wasm backend's 4 GiB memory: the weights twice (2.50 GiB, with XNNPACK's packed copies) and attention scores (one head) [20450, 20450] alone need 4.06 GiB; 1974x1974 may fit (or use another backend)");
    expect(() => checkWasmMemory(VITL, VITL_BYTES, 1974, 1974)).not.toThrow();
    expect(() => checkWasmMemory(VITL, VITL_BYTES, 1988, 1988)).toThrow(/does not fit/);
    expect(() => checkWasmMemory(VITL, VITL_BYTES, 518, 518, 64)).toThrow(/^input 518x518 x64 does not fit.*, or a smaller batch \(or use another backend\)$/);
  });

  test('weights over 2 GiB (ViT-G: 4.5 GB) are refused before binding, naming the file', () => {
    // Stand-ins without data: checkWasmWeights reads shapes, not values (a lazily read file stays unread).
    const sd: StateDict = new Map([['pretrained.blocks.0.mlp.w12.weight', { shape: [1.13e9], data: undefined as unknown as Float32Array }]]);
    expect(() => checkWasmWeights(sd, 'depth_anything_v2_vitg.pth')).toThrow(
      'depth_anything_v2_vitg.pth: 4.21 GiB of float32 weights do not fit the wasm backend (at most 4 GiB of memory, and XNNPACK keeps a packed copy of each weight: about 2 GiB of weights at most); use --backend webgpu, tensorflow (tfjs-node) or cpu');
    const small: StateDict = new Map([['x', { shape: [WASM_MAX_HEAP / 8 / 4], data: undefined as unknown as Float32Array }]]);
    expect(() => checkWasmWeights(small, 'small')).not.toThrow();
  });

  test('wasm traps are explained; other errors pass through unchanged', () => {
    const plain = new Error('something else');
    expect(wasmAbortError(plain, 'x')).toBe(plain);
    const msg = (wasmAbortError(new WebAssembly.RuntimeError('memory access out of bounds'), 'running a 518x518 input') as Error).message;
    expect(msg).toMatch(/^the wasm backend failed running a 518x518 input: memory access out of bounds \(heap \d+\.\d\d GiB\)\. The wasm backend cannot be trusted again in this process: restart it with a smaller input size or another backend$/);
    expect((wasmAbortError(new Error('Aborted(). Build with -sASSERTIONS for more info.'), 'y') as Error).message).toMatch(/^the wasm backend failed y: Aborted\(\)\. Build/);
  });
});

test('off wasm the checks are no-ops (cpu)', async () => {
  await useBackend('cpu');
  expect(() => checkWasmMemory(VITL, VITL_BYTES, 2002, 2002)).not.toThrow();
  const e = new WebAssembly.RuntimeError('memory access out of bounds');
  expect(wasmAbortError(e, 'x')).toBe(e);
  expect(tf.getBackend()).toBe('cpu');
});

test('a pass that runs out of wasm memory ends in one sentence saying so (child process, heap filled to 8 MiB of its limit)', async () => {
  const root = path.resolve(__dirname, '../..');
  const out = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, [require.resolve('tsx/cli'), 'test/wasm/fill_heap_child.ts'], { cwd: root }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
  const r = JSON.parse(out.trim().split('\n').pop()!) as { threw: boolean; message?: string };
  expect(r.threw).toBe(true);
  expect(r.message).toMatch(/^the wasm backend failed running a 518x518 input: out of memory \((memory access out of bounds|table index is out of bounds|Aborted\(\)[^;]*); its heap at 4\.00 GiB of at most 4 GiB\)\. The wasm backend cannot be trusted again in this process: restart it with a smaller input size or another backend$/);
});
