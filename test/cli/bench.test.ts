import * as path from 'path';
import { runCli as run } from './run_cli';
import { parseSize } from '../../src/cli/bench';

const TINY = path.resolve(__dirname, '../../../shared/fixtures/parity/v2-tiny/config.json');


describe('depth-anything bench', () => {
  test('--json prints one object with the timings, FLOPs and stages', async () => {
    const r = await run('bench', '--config', TINY, '--size', '28x42', '--runs', '2', '--warmup', '1', '--backend', 'cpu', '--json');
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines).toHaveLength(1);
    const j = JSON.parse(lines[0]);
    expect(j.backend).toBe('cpu');
    expect([j.height, j.width, j.batch]).toEqual([28, 42, 1]);
    expect(j.times_ms).toHaveLength(2);
    expect(j.cpu_ms).toHaveLength(2);
    expect(j.load_average).toHaveLength(2);
    expect(j.warmup_ms).toHaveLength(1);
    for (const k of ['median_ms', 'min_ms', 'max_ms', 'gflop', 'gflops', 'bind_ms', 'params', 'rss_bytes', 'tensor_bytes']) expect(typeof j[k]).toBe('number');
    expect(j.min_ms).toBeLessThanOrEqual(j.median_ms);
    expect(j.median_ms).toBeLessThanOrEqual(j.max_ms);
    expect(j.gflop).toBeCloseTo(j.gflop_encoder + j.gflop_head, 9);
    expect(j.model).toEqual({ version: 'v2', encoder: 'vits', config: TINY });
    expect(j.stages.map((s: { name: string }) => s.name)).toContain('blocks (12)');
    for (const s of j.stages) expect(typeof s.ms).toBe('number');
  });

  test('the table names the model, the backend and the stages', async () => {
    const r = await run('bench', '--config', TINY, '--size', '28', '--runs', '1', '--warmup', '0', '--backend', 'cpu');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/28x28, batch 1, 0\.\dM parameters, backend cpu/);
    expect(r.out).toMatch(/median [\d.]+ ms/);
    expect(r.out).toContain('head: refinenet1');
    expect(r.err).toContain('run 1/1:');
  });

  test('--no-stages skips the staged pass', async () => {
    const r = await run('bench', '--config', TINY, '--size', '28', '--runs', '1', '--warmup', '0', '--backend', 'cpu', '--no-stages', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).stages).toBeNull();
  });

  test('bad arguments are clear errors', async () => {
    let r = await run('bench', '--size', '500', '--backend', 'cpu');
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('--size sides must be positive multiples of 14; got "500" (nearest: 504)');
    r = await run('bench', '--runs', '0', '--backend', 'cpu');
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('--runs must be a positive integer; got "0"');
    r = await run('bench', '--encoder', 'vitx');
    expect(r.code).not.toBe(0);
    expect(r.err).toContain("Allowed choices are vits, vitb, vitl, vitg");
    expect(() => parseSize('14x')).toThrow('--size must be N or HxW');
    expect(parseSize('518x392')).toEqual([518, 392]);
  });
});
