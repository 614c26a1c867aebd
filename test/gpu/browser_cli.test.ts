/**
 * parity/bench --browser as a user runs them (child processes: esbuild, which bundles the page,
 * refuses to run inside jest's module sandbox). The parity cases themselves run in
 * test/parity/parity_chromium_*.test.ts.
 */
import { execFile } from 'child_process';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { entryToFloat32, parseSafetensors } from '../../src/io/safetensors';
import { caseDir, expectArrayParity } from '../helpers';

const ROOT = path.resolve(__dirname, '../..');

function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return cliEnv({}, ...args);
}

function cliEnv(env: Record<string, string>, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [require.resolve('tsx/cli'), 'src/cli/run.ts', ...args], { cwd: ROOT, maxBuffer: 64 << 20, env: { ...process.env, ...env } }, (e, out, err) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out, err });
    });
  });
}

const dir = caseDir('v2-tiny');
const caseArgs = ['--weights', path.join(dir, 'weights.safetensors'), '--config', path.join(dir, 'config.json'), '--reference', path.join(dir, 'activations.safetensors')];

describe('--browser', () => {
  test('parity --browser --dump writes what the page computed (PyTorch layouts) and reports the adapter', async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'gpu-dump-'));
    try {
      const dump = path.join(tmp, 'dump.safetensors');
      const r = await cli('parity', '--browser', '--backend', 'webgl', '--json', '--dump', dump, ...caseArgs);
      expect(r.code).toBe(0);
      expect(r.err).toMatch(/^backend: webgl \(.* via chromium(, software rendering)?\) in .*Chrom.*, headless$/m);
      const j = JSON.parse(r.out);
      expect(j.ok).toBe(true);
      expect(j.place).toBe('chromium');
      expect(j.adapter.api).toBe('webgl');
      expect(j.adapter.limits.maxTextureSize).toBeGreaterThanOrEqual(4096);
      const dumped = parseSafetensors(readFileSync(dump), dump);
      const ref = parseSafetensors(readFileSync(path.join(dir, 'activations.safetensors')), 'ref');
      expect(r.err).toContain(`wrote ${dumped.tensors.size} tensors to ${dump}`);
      for (const key of ['output', 'pretrained.blocks.0', 'depth_head.scratch.output_conv1']) {
        expect(dumped.tensors.get(key)!.shape).toEqual(ref.tensors.get(key)!.shape);
        expectArrayParity(entryToFloat32(dumped.tensors.get(key)!), entryToFloat32(ref.tensors.get(key)!), `webgl dump ${key}`);
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  test('bench --browser --json: the same fields as in Node, plus the adapter', async () => {
    const r = await cli('bench', '--browser', '--backend', 'webgl', '--config', path.join(dir, 'config.json'), '--size', '28x42', '--runs', '1', '--warmup', '1', '--no-stages', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.backend).toBe('webgl');
    expect(j.place).toBe('chromium');
    expect(j.adapter.api).toBe('webgl');
    expect(j.attention).toBe('fused');
    expect(j.times_ms).toHaveLength(1);
    expect(j.median_ms).toBeGreaterThan(0);
    expect(j.rss_bytes).toBeNull();
  });

  test('a Node-only backend with --browser is one clear line', async () => {
    const r = await cli('parity', '--browser', '--backend', 'tensorflow', ...caseArgs);
    expect(r.code).not.toBe(0);
    expect(r.err.trim().split('\n').pop()).toBe('depth-anything: --browser runs webgl, webgpu or cpu in Chromium; "tensorflow" is a Node backend');
  });

  test('bench --backend webgpu in Node reports the Dawn adapter', async () => {
    const r = await cli('bench', '--backend', 'webgpu', '--config', path.join(dir, 'config.json'), '--size', '28x42', '--runs', '1', '--warmup', '0', '--no-stages', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.backend).toBe('webgpu');
    expect(j.place).toBe('node');
    expect(j.adapter.backend).toBe('Dawn opengles');
    expect(j.adapter.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
  });

  test('WebGL without float32 render targets is refused (tfjs would compute in float16)', async () => {
    const r = await cli('parity', '--browser', '--backend', 'webgl', '--flag', 'WEBGL_RENDER_FLOAT32_ENABLED=false', ...caseArgs);
    expect(r.code).not.toBe(0);
    expect(r.err.trim().split('\n').pop()).toBe('depth-anything: in Chromium: backend "webgl": this browser cannot render to float32 textures, so tfjs would compute in float16; use webgpu or cpu');
  });

  test('webgpu without an adapter is one line naming the backend and what to use instead', async () => {
    // No Vulkan driver here (Debian 12's lavapipe is not installed, and could not run Dawn anyway).
    const r = await cliEnv({ DEPTH_ANYTHING_DAWN_BACKEND: 'vulkan', VK_ICD_FILENAMES: '/nonexistent.json' }, 'parity', '--backend', 'webgpu', ...caseArgs);
    expect(r.code).not.toBe(0);
    expect(r.err.trim().split('\n').pop()).toBe('depth-anything: backend "webgpu": Dawn found no vulkan adapter (is a Vulkan driver installed? look for an ICD JSON under /usr/share/vulkan/icd.d); use --backend wasm, or DEPTH_ANYTHING_DAWN_BACKEND=vulkan|opengles');
  });
});
