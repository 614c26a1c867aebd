/**
 * Every recorded tensor of every fixture case within the fixtures README's tolerances, on one
 * backend (one test file per backend, so jest runs them side by side). Pass
 * `PARITY_CASES=v2-tiny,v1-tiny` to run a subset while developing.
 *
 * Each case runs through `depth-anything parity --json` in a child process: the plain-JS cpu
 * backend runs about 2.5x slower inside jest's module sandbox (measured: 28 CPU-minutes for the
 * full-size case against 11 in plain Node), and a child process also checks the command itself.
 */
import * as path from 'path';
import { REQUIRED_KEYS } from '../../src/verify/parity';
import type { TensorComparison } from '../../src/verify/compare';
import { PARITY_CASES, caseDir, loadCase, parityJson } from '../helpers';

/** The full-size case on the plain-JS cpu backend takes 11-12 minutes on 2 cores (measured 726 s). */
const CASE_TIMEOUT_MS = 40 * 60 * 1000;
const selected = process.env.PARITY_CASES ? process.env.PARITY_CASES.split(',') : [...PARITY_CASES];

interface Memory { numTensors: number; gpuResources?: number }
interface JsonReport { ok: boolean; comparisons: TensorComparison[]; notComputed: string[]; memory?: { before: Memory; after: Memory } }

/**
 * The cases the Chromium suites run by default: the tiny ones. The full-size case takes minutes on
 * SwiftShader (webgl ~12 min, webgpu ~22 min on a loaded machine): GPU_FULL=1 adds it. webgpu in
 * Node runs it in CI (parity_webgpu.test.ts).
 */
export const GPU_CASES: readonly string[] = process.env.GPU_FULL ? [...PARITY_CASES] : PARITY_CASES.filter((c) => c !== 'v2-vits-full');

function parityCli(name: string, backend: string, extra: string[] = []): Promise<{ code: number; report: JsonReport; stderr: string }> {
  const dir = caseDir(name);
  const args = ['--backend', backend, ...extra,
    '--weights', path.join(dir, 'weights.safetensors'), '--config', path.join(dir, 'config.json'),
    '--reference', path.join(dir, 'activations.safetensors')];
  return parityJson<JsonReport>(args, `${name} on ${backend}`);
}

/**
 * `browser`: run the comparison inside headless Chromium (parity --browser). `cases`: the cases
 * to run unless PARITY_CASES names others (default: all). `only`: this file runs at most these
 * (PARITY_CASES narrows them), for a backend whose cases are split over files.
 */
export function parityOn(backend: 'cpu' | 'wasm' | 'webgpu' | 'webgl', opts: { browser?: boolean; cases?: readonly string[]; only?: readonly string[] } = {}): void {
  const wanted = process.env.PARITY_CASES ? selected : [...(opts.cases ?? selected)];
  const cases = opts.only ? wanted.filter((c) => opts.only!.includes(c)) : wanted;
  if (cases.length === 0) {
    // Only a PARITY_CASES subset can leave a file without a case; say so rather than fail on an empty table.
    test(`PARITY_CASES=${process.env.PARITY_CASES} names none of this file's cases (${opts.only?.join(', ')})`, () => {
      expect(process.env.PARITY_CASES).toBeTruthy();
    });
    return;
  }
  describe(`parity on ${backend}${opts.browser ? ' in Chromium' : ''}`, () => {
    test.each(cases)('%s: every recorded tensor within tolerance', async (name) => {
      const { code, report, stderr } = await parityCli(name, backend, opts.browser ? ['--browser'] : []);
      expect(stderr).toContain(`backend: ${backend}`);
      // Dawn's own start-up warnings (fd 2 of the process running Dawn) are filtered out by the
      // launcher without --verbose (src/cli/quiet_dawn.ts); everything else of ours passes.
      if (backend === 'webgpu' && !opts.browser) expect(stderr).not.toMatch(/artificially reduced/);
      const failures = report.comparisons.filter((r) => !r.ok).map((r) => `${r.key}: relL2 ${r.relL2}, maxAbs ${r.maxAbs} (limit ${r.maxAbsLimit})`);
      expect(failures).toEqual([]);
      // Every float tensor the reference records is one this model computes and compares.
      expect(report.notComputed).toEqual([]);
      const c = await loadCase(name);
      const compared = new Set(report.comparisons.map((r) => r.key));
      const expected = [...c.activations.tensors].filter(([k, e]) => k !== 'input' && e.dtype.startsWith('F')).map(([k]) => k);
      expect([...compared].sort()).toEqual(expected.sort());
      // The seams the issue names, wherever the reference records them (the full-size case keeps
      // only the main ones).
      const recorded = REQUIRED_KEYS.filter((k) => c.activations.tensors.has(k));
      expect(recorded).toContain('output');
      for (const key of recorded) expect(compared.has(key)).toBe(true);
      for (let i = 0; i < 4; i++) {
        for (const key of [`features.${i}.cls`, `depth_head.projects.${i}`, `depth_head.resize_layers.${i}`]) expect(compared.has(key)).toBe(true);
      }
      expect(report.ok).toBe(true);
      expect(code).toBe(0);
      if (opts.browser) {
        // The page leaves the backend as it found it: tensors and textures/GPU buffers in use.
        expect(report.memory?.after).toEqual(report.memory?.before);
        expect(report.memory?.after.gpuResources).toBeDefined();
      }
      const worst = Math.max(...report.comparisons.map((r) => r.relL2));
      console.log(`${backend}${opts.browser ? ' (Chromium)' : ''} ${name}: ${report.comparisons.length} tensors, worst relL2 ${worst.toExponential(2)}`);
    }, CASE_TIMEOUT_MS);
  });
}
