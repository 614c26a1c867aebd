/**
 * Multithreaded wasm in Node (src/backends/wasm_threads.ts, src/backends/node.ts). Whether a process ends by
 * itself and how a broken start falls back can only be seen from outside: those cases run a child
 * process. The in-process cases also make this jest worker run the threaded backend, so the suite
 * ending shows the workers do not hold jest open.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backends/node';

const ROOT = path.resolve(__dirname, '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

/** Runs TypeScript in a fresh Node process; a process that does not end is killed after 120 s. */
function runScript(code: string, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(TSX, ['--eval', code], { cwd: ROOT, encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** A product big enough for XNNPACK to split it over threads, and its exact-enough reference. */
function product(): { a: tf.Tensor2D; b: tf.Tensor2D } {
  const n = 192;
  const a = tf.tensor2d(Float32Array.from({ length: n * n }, (_, i) => Math.sin(i * 0.37)), [n, n]);
  const b = tf.tensor2d(Float32Array.from({ length: n * n }, (_, i) => Math.cos(i * 0.11)), [n, n]);
  return { a, b };
}

describe('wasm threads', () => {
  test('a script using 2 threads computes and then ends by itself', () => {
    const r = runScript(`
      import * as tf from '@tensorflow/tfjs-core';
      import { initBackend } from './src/backends/node';
      (async () => {
        const info = await initBackend('wasm', { threads: 2 });
        const y = tf.matMul(tf.ones([256, 256]), tf.ones([256, 256]));
        const d = await y.data();
        console.log(JSON.stringify({ info, first: d[0], last: d[d.length - 1] }));
      })();
    `);
    expect(r.signal).toBeNull(); // not killed by the timeout: nothing kept Node alive
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop() as string);
    expect(out.info).toEqual({ name: 'wasm', description: 'wasm (2 threads, relaxed-SIMD matrix products)', threads: 2 });
    expect(out.first).toBe(256);
    expect(out.last).toBe(256);
  });

  test('a worker that cannot load falls back to 1 thread with the reason, and the process still ends', () => {
    const broken = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'da-threads-')), 'broken.js');
    fs.writeFileSync(broken, "throw new Error('broken main script');\n");
    const r = runScript(`
      import * as tf from '@tensorflow/tfjs-core';
      import './src/backends/node';
      import { startWasm } from './src/backends/wasm_threads';
      (async () => {
        const s = await startWasm(2, { mainScript: ${JSON.stringify(broken)} });
        const y = await tf.add(tf.ones([3]), 1).data();
        console.log(JSON.stringify({ s, backend: tf.getBackend(), y: Array.from(y) }));
      })();
    `);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop() as string);
    expect(out.backend).toBe('wasm');
    expect(out.y).toEqual([2, 2, 2]);
    expect(out.s.threads).toBe(1);
    expect(out.s.warning).toBe('wasm threads unavailable (a pthread worker failed: broken main script); running on 1 thread');
  });

  test('DEPTH_ANYTHING_THREADS sets the default; a bad value is a clear error', () => {
    const code = `
      import { initBackend } from './src/backends/node';
      initBackend('wasm').then((i) => console.log(i.threads), (e) => { console.log('error: ' + e.message); });
    `;
    expect(runScript(code, { DEPTH_ANYTHING_THREADS: '1' }).stdout.trim()).toBe('1');
    expect(runScript(code, { DEPTH_ANYTHING_THREADS: 'two' }).stdout.trim())
      .toBe('error: DEPTH_ANYTHING_THREADS must be a positive integer; got "two"');
  });

  test('in this process: 2 threads give the cpu backend\'s product; no tensor is left behind', async () => {
    await initBackend('cpu');
    const ref = product();
    const refY = tf.matMul(ref.a, ref.b);
    const expected = await refY.data();
    tf.dispose([ref.a, ref.b, refY]);
    const info = await initBackend('wasm', { threads: 2, warn: false });
    expect(info.threads).toBe(2);
    const before = tf.memory().numTensors;
    const { a, b } = product();
    const y = tf.matMul(a, b);
    const got = await y.data();
    tf.dispose([a, b, y]);
    expect(tf.memory().numTensors).toBe(before);
    let maxDiff = 0;
    for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - expected[i]));
    expect(maxDiff).toBeLessThan(1e-3); // sums of 192 products of O(1) terms, float32
  });

  test('the thread count is fixed once wasm runs: a different request says so', async () => {
    const info = await initBackend('wasm', { threads: 3, warn: false });
    expect(info.threads).toBe(2);
    expect(info.warning).toBe('the wasm backend already runs with 2 thread(s) in this process; the thread count is fixed when it first starts');
  });

  test('threads must be a positive integer', async () => {
    await expect(initBackend('wasm', { threads: 0 })).rejects.toThrow('threads must be a positive integer; got 0');
    await expect(initBackend('cpu', { threads: 1.5 })).rejects.toThrow('threads must be a positive integer; got 1.5');
  });
});
