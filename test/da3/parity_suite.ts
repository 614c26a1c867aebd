/**
 * Both Depth Anything 3 fixture cases through `depth-anything parity --json` in a child process
 * (as the depth and segmentation suites do): every tensor the net records is computed, every float
 * one within the fixtures' tolerance and every integer/mask one equal, and the backend's tensors
 * (and GPU buffers on webgpu) are where they were before. One test file per backend.
 */
import { existsSync, readFileSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseSafetensors } from '../../src/io/safetensors';
import type { TensorComparison } from '../../src/verify/compare';
import type { IntegerComparison } from '../../src/verify/da3_parity';
import { DA3_CASES } from '../fixture_cases';
import { FIXTURES, parityJson } from '../helpers';

export const DA3_FIXTURES = path.join(FIXTURES, 'da3');
/** The inputs of the case, not computed: the K the metric rule was given. */
const GIVEN = ['metric.intrinsics'];

interface Memory { numTensors: number; gpuResources?: number }
interface JsonReport { ok: boolean; comparisons: TensorComparison[]; integers: IntegerComparison[]; notComputed: string[]; backend: string; ms: number; endToEnd: boolean; memory: { before: Memory; after: Memory } }

/** `browser`: inside headless Chromium (parity --browser, the shared Chromium of the test run). */
export function da3ParityOn(backend: 'cpu' | 'wasm' | 'webgpu' | 'webgl', opts: { browser?: boolean; cases?: readonly string[] } = {}): void {
  describe(`Depth Anything 3 parity on ${backend} (${opts.browser ? 'Chromium' : 'Node'})`, () => {
    test.each([...(opts.cases ?? DA3_CASES)])('%s: end to end from the PNG files, every recorded tensor (net, prediction, metric, export)', async (name) => {
      const dir = path.join(DA3_FIXTURES, name);
      const dump = path.join(os.tmpdir(), `da3-parity-${process.pid}-${backend}-${name}.safetensors`);
      const args = ['--backend', backend, ...(backend === 'wasm' ? ['--threads', '1'] : []), ...(opts.browser ? ['--browser'] : []),
        '--weights', path.join(dir, 'weights.safetensors'), '--reference', path.join(dir, 'activations.safetensors'), '--dump', dump];
      const { code, report, stderr } = await parityJson<JsonReport>(args, `${name} on ${backend}`);
      expect(stderr).toContain(`backend: ${backend}`);
      expect(report.backend).toBe(backend);
      expect(report.memory.after).toEqual(report.memory.before);
      const failures = report.comparisons.filter((c) => !c.ok).map((c) => `${c.key}: relL2 ${c.relL2}, maxAbs ${c.maxAbs} (limit ${c.maxAbsLimit})`);
      expect(failures).toEqual([]);
      expect(report.notComputed).toEqual([]);
      expect(report.endToEnd).toBe(true);
      const ref = parseSafetensors(readFileSync(path.join(dir, 'activations.safetensors')), name);
      const exported = path.join(dir, 'export.safetensors');
      const all = [...ref.tensors, ...(existsSync(exported) ? parseSafetensors(readFileSync(exported), 'export').tensors : [])];
      const net = all.filter(([k]) => !GIVEN.includes(k));
      expect(report.comparisons.map((c) => c.key).sort()).toEqual(net.filter(([, e]) => e.dtype.startsWith('F')).map(([k]) => k).sort());
      expect(report.integers.map((c) => c.key).sort()).toEqual(net.filter(([, e]) => !e.dtype.startsWith('F')).map(([k]) => k).sort());
      for (const c of report.integers) expect({ key: c.key, differing: c.differing }).toEqual({ key: c.key, differing: 0 });
      expect(report.ok).toBe(true);
      expect(code).toBe(0);
      // --dump: everything computed, under the reference's names and shapes.
      const dumped = parseSafetensors(readFileSync(dump), dump);
      rmSync(dump);
      for (const c of report.comparisons) expect(dumped.tensors.get(c.key)?.shape).toEqual(c.shape);
      const worst = report.comparisons.reduce((a, c) => (c.relL2 > a.relL2 ? c : a));
      if (opts.browser) expect(report.memory.after.gpuResources).toBeDefined();
      console.log(`da3 ${backend}${opts.browser ? ' (Chromium)' : ''} ${name}: ${report.comparisons.length} float + ${report.integers.length} integer tensors, worst relL2 ${worst.relL2.toExponential(2)} (${worst.key}), ${(report.ms / 1000).toFixed(1)} s`);
    }, 5 * 60 * 1000);
  });
}
