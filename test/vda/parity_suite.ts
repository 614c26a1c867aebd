/**
 * Video Depth Anything parity on one backend: each case through `depth-anything parity --json` in
 * a child process (as test/parity does: faster than jest's sandbox, and it checks the command).
 * Every float tensor the reference records must be compared and within the fixtures README's
 * tolerances; integer tensors (window slots, cache choices) exactly.
 */
import { existsSync, readFileSync } from 'fs';
import * as path from 'path';
import type { TensorComparison } from '../../src/verify/compare';
import { parseSafetensors } from '../../src/io/safetensors';
import { FIXTURES, parityJson } from '../helpers';

interface Memory { numTensors: number; gpuResources?: number }
interface JsonReport { ok: boolean; comparisons: TensorComparison[]; notComputed: string[]; kind: string; backend: string; memory?: { before: Memory; after: Memory } }

const REFERENCES = ['activations.safetensors', 'pipeline.safetensors', 'stream.safetensors'];

/** A case folder's weights (config.json "weights", relative, or its own) and reference file. */
export function vdaCaseFiles(name: string): { dir: string; weights: string; reference: string } {
  const dir = path.join(FIXTURES, 'vda', name);
  const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as { weights?: string };
  const reference = REFERENCES.map((f) => path.join(dir, f)).find((f) => existsSync(f));
  if (!reference) throw new Error(`${dir}: none of ${REFERENCES.join(', ')}`);
  return { dir, weights: path.resolve(dir, config.weights ?? 'weights.safetensors'), reference };
}

/** `browser`: inside headless Chromium (parity --browser, the shared Chromium of the test run). */
export function vdaParityOn(backend: 'cpu' | 'wasm' | 'webgpu' | 'webgl', cases: readonly string[], opts: { browser?: boolean } = {}): void {
  describe(`VDA parity on ${backend}${opts.browser ? ' in Chromium' : ''}`, () => {
    test.each(cases)('%s: every recorded tensor within tolerance', async (name) => {
      const { weights, reference } = vdaCaseFiles(name);
      const { code, report, stderr } = await parityJson<JsonReport>(['--backend', backend, ...(opts.browser ? ['--browser'] : []), '--weights', weights, '--reference', reference], `${name} on ${backend}`);
      expect(stderr).toContain(`backend: ${backend}`);
      const failures = report.comparisons.filter((c) => !c.ok).map((c) => `${c.key}: relL2 ${c.relL2}, maxAbs ${c.maxAbs} (limit ${c.maxAbsLimit})`);
      expect(failures).toEqual([]);
      expect(report.notComputed).toEqual([]);
      // Each recorded tensor is compared (depth per frame: `depth[i]`), the f64 fit aside.
      const ref = parseSafetensors(readFileSync(reference), reference);
      const compared = new Set(report.comparisons.map((c) => c.key.replace(/\[\d+\]$/, '')));
      const expected = [...ref.tensors.keys()].filter((k) => k !== 'input' && !/_f64$/.test(k));
      expect(expected.filter((k) => !compared.has(k))).toEqual([]);
      expect(report.ok).toBe(true);
      expect(code).toBe(0);
      if (opts.browser) {
        // The page leaves the backend as it found it: tensors and textures/GPU buffers.
        expect(report.memory?.after).toEqual(report.memory?.before);
        expect(report.memory?.after.gpuResources).toBeDefined();
      }
      const worst = report.comparisons.reduce((a, c) => (c.relL2 > a.relL2 ? c : a));
      console.log(`vda ${backend}${opts.browser ? ' (Chromium)' : ''} ${name}: ${report.comparisons.length} tensors, worst relL2 ${worst.relL2.toExponential(2)} (${worst.key})`);
    }, 10 * 60 * 1000);
  });
}
