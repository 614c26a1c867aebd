/**
 * Maintainer script: runs every fixture case through the parity comparison on the given backends
 * and prints a markdown table (tensors compared, worst relative L2 and where, forward time).
 *
 *   npx tsx tools/parity-report.ts [--backends wasm,cpu] [--cases v2-tiny,v2-vits-full]
 *
 * Backends are started one after another in this process, so wasm threads follow the default
 * (logical cores) or DEPTH_ANYTHING_THREADS.
 */
import { readFileSync } from 'fs';
import * as path from 'path';
import { BackendName, initBackend } from '../src/backends/node';
import { configFromJson } from '../src/config/depth';
import { bindWeights, disposeWeights } from '../src/depth/depth_anything';
import { parseSafetensors } from '../src/io/safetensors';
import { runParity } from '../src/verify/parity';
import { loadWeightsFile } from '../src/node/weights_file';

const FIXTURES = path.resolve(__dirname, '../../shared/fixtures/parity');
const ALL_CASES = ['v2-tiny', 'v2-tiny-giantlike', 'v1-tiny', 'v2-tiny-metric', 'v2-vits-full'];

function arg(name: string, fallback: string[]): string[] {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1].split(',') : fallback;
}

async function main(): Promise<number> {
  const backends = arg('backends', ['wasm', 'cpu']) as BackendName[];
  const cases = arg('cases', ALL_CASES);
  const rows: string[] = ['| case | backend | tensors | worst relL2 (at) | max abs / limit (worst) | forward + compare | result |', '|---|---|---|---|---|---|---|'];
  let failed = 0;
  for (const backend of backends) {
    const info = await initBackend(backend);
    for (const name of cases) {
      const dir = path.join(FIXTURES, name);
      const cfg = configFromJson(JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')), name);
      const { stateDict } = await loadWeightsFile(path.join(dir, 'weights.safetensors'));
      const reference = parseSafetensors(readFileSync(path.join(dir, 'activations.safetensors')), `${name}/activations.safetensors`);
      const w = bindWeights(stateDict, cfg, name);
      const t0 = Date.now();
      const report = await runParity(w, cfg, reference);
      const seconds = (Date.now() - t0) / 1000;
      disposeWeights(w);
      const worst = report.comparisons.reduce((a, c) => (c.relL2 > a.relL2 ? c : a));
      const ratio = report.comparisons.reduce((a, c) => (c.maxAbs / c.maxAbsLimit > a.maxAbs / a.maxAbsLimit ? c : a));
      if (!report.ok) failed++;
      rows.push(`| ${name} | ${info.description} | ${report.comparisons.length} | ${worst.relL2.toExponential(2)} (${worst.key}) | ${ratio.maxAbs.toExponential(1)} / ${ratio.maxAbsLimit.toExponential(1)} (${ratio.key}) | ${seconds.toFixed(1)} s | ${report.ok ? 'pass' : 'FAIL'} |`);
      console.error(rows[rows.length - 1]);
    }
  }
  console.log(rows.join('\n'));
  return failed ? 1 : 0;
}

main().then((code) => { process.exitCode = code; }, (e: Error) => { console.error(e.message); process.exitCode = 1; });
