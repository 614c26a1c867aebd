/**
 * V1 metric (ZoeDepth) fixture cases through `depth-anything parity --json` (the same entry point
 * as every other case), from the official `.pt` file, on every backend and place (see PLACES): every float tensor the
 * reference records (activations.safetensors, and infer.safetensors where present) is computed
 * and within the fixtures README's tolerances.
 */
import { existsSync, readFileSync } from 'fs';
import * as path from 'path';
import type { TensorComparison } from '../../src/verify/compare';
import { parseSafetensors } from '../../src/io/safetensors';
import { caseDir, parityJson } from '../helpers';
import { V1_METRIC_CASES } from '../fixture_cases';

const CASES = [...V1_METRIC_CASES];
/**
 * The indoor case runs the network 8 times (the tapped pass and the four pipeline values, two of
 * them flip-averaged): about 3 minutes on the plain-JS cpu backend on 2 idle cores (measured 182 s),
 * past jest's 10-minute default on a busy machine.
 */
const CASE_TIMEOUT_MS = 30 * 60 * 1000;

interface JsonReport { ok: boolean; comparisons: TensorComparison[]; notComputed: string[] }

function parityCli(name: string, backend: string, browser: boolean, weights: string): Promise<{ code: number; report: JsonReport; stderr: string }> {
  const dir = caseDir(name);
  const args = ['--backend', backend, '--threads', '1',
    '--weights', path.join(dir, weights), '--config', path.join(dir, 'config.json'), '--reference', path.join(dir, 'activations.safetensors')];
  if (backend !== 'wasm') args.splice(args.indexOf('--threads'), 2);
  if (browser) args.push('--browser');
  return parityJson<JsonReport>(args, `${name} on ${backend}`);
}

const floatKeys = (file: string): string[] => {
  if (!existsSync(file)) return [];
  return [...parseSafetensors(readFileSync(file), file).tensors].filter(([k, e]) => k !== 'image' && e.dtype.startsWith('F')).map(([k]) => k);
};

// wasm and cpu in Node; webgpu in Node (Dawn on Mesa's GL ES); webgl and webgpu in headless
// Chromium (SwiftShader) through `parity --browser`.
const PLACES: [string, string, boolean][] = [
  ['wasm', 'wasm', false], ['cpu', 'cpu', false], ['webgpu (Node)', 'webgpu', false],
  ['webgl (Chromium)', 'webgl', true], ['webgpu (Chromium)', 'webgpu', true],
];

describe.each(PLACES)('V1 metric parity on %s', (place, backend, browser) => {
  test.each(CASES)('%s (weights.pt): every recorded tensor and pipeline value within tolerance', async (name) => {
    const { code, report, stderr } = await parityCli(name, backend, browser, 'weights.pt');
    expect(stderr).toContain(`backend: ${backend}`);
    const failures = report.comparisons.filter((r) => !r.ok).map((r) => `${r.key}: relL2 ${r.relL2}, maxAbs ${r.maxAbs} (limit ${r.maxAbsLimit})`);
    expect(failures).toEqual([]);
    expect(report.notComputed).toEqual([]);
    const dir = caseDir(name);
    const expected = new Set([...floatKeys(path.join(dir, 'activations.safetensors')), ...floatKeys(path.join(dir, 'infer.safetensors'))]);
    expect(report.comparisons.map((c) => c.key).sort()).toEqual([...expected].sort());
    for (const key of ['core.prep', 'rel_depth', 'conv2', 'seed_bin_regressor.1', 'attractors.3.1', 'conditional_log_binomial', 'metric_depth']) {
      expect(expected.has(key)).toBe(true);
    }
    if (name === 'v1-metric-indoor-tiny') for (const key of ['forward', 'flip', 'infer', 'infer_no_pad']) expect(expected.has(key)).toBe(true);
    expect(report.ok).toBe(true);
    expect(code).toBe(0);
    const worst = report.comparisons.reduce((a, c) => (c.relL2 > a.relL2 ? c : a));
    const pipe = report.comparisons.filter((c) => ['forward', 'flip', 'infer', 'infer_no_pad'].includes(c.key)).map((c) => `${c.key} ${c.relL2.toExponential(2)}`);
    console.log(`${place} ${name}: ${report.comparisons.length} tensors, worst relL2 ${worst.relL2.toExponential(2)} at ${worst.key}${pipe.length ? `; ${pipe.join(', ')}` : ''}`);
  }, CASE_TIMEOUT_MS);
});
