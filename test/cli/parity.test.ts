/** The `parity` command as a user runs it: output lines, exit status, --dump layouts. */
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli as run } from './run_cli';
import { entryToFloat32, parseSafetensors } from '../../src/io/safetensors';
import { caseDir, expectArrayParity, loadCase, useBackend } from '../helpers';
import { parityFromStateDict } from '../../src/verify/parity';

describe('depth-anything parity', () => {
  let tmp: string;
  beforeAll(() => { tmp = mkdtempSync(path.join(os.tmpdir(), 'parity-cli-')); });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  test('passes on a fixture, one line per tensor, and dumps PyTorch layouts', async () => {
    const dir = caseDir('v2-tiny-metric');
    const dump = path.join(tmp, 'dump.safetensors');
    const r = await run(...['parity', '--weights', `${dir}/weights.safetensors`, '--config', `${dir}/config.json`,
      '--reference', `${dir}/activations.safetensors`, '--backend', 'cpu', '--dump', dump]);
    expect(r.code).toBe(0);
    expect(r.err).toContain('backend: cpu');
    expect(r.out).toMatch(/^output\s+\[1, 70, 112\]\s+relL2 \S+\s+maxAbs \S+ \(limit \S+\)\s+ok$/m);
    expect(r.out).toMatch(/^depth_head\.scratch\.refinenet2\s+\[1, 16, 20, 32\]/m);
    expect(r.out).toMatch(/71 of 71 tensors within tolerance .*: PASS$/m);
    const dumped = parseSafetensors(readFileSync(dump), dump);
    const ref = parseSafetensors(readFileSync(`${dir}/activations.safetensors`), 'ref');
    // Values, not only shapes. Every tensor the reference records (all but the input it was fed)
    // is in the dump, in the reference's layout, within the fixtures' tolerances of it:
    const recorded = [...ref.tensors.keys()].filter((k) => k !== 'input');
    expect(recorded).toHaveLength(71);
    for (const key of recorded) {
      expect([key, dumped.tensors.get(key)?.dtype, dumped.tensors.get(key)?.shape]).toEqual([key, 'F32', ref.tensors.get(key)!.shape]);
      expectArrayParity(entryToFloat32(dumped.tensors.get(key)!), entryToFloat32(ref.tensors.get(key)!), `dumped ${key}`);
    }
    // and every tensor dumped, recorded or not, is what the same computation gives in this
    // process (same backend, same code: bit for bit).
    await useBackend('cpu');
    const c = await loadCase('v2-tiny-metric');
    const computed = (await parityFromStateDict(c.stateDict, c.config, c.activations, 'v2-tiny-metric')).computed;
    expect(r.err).toContain(`wrote ${computed.length} tensors to ${dump}`);
    expect([...dumped.tensors.keys()].sort()).toEqual(computed.map((t) => t.name).sort());
    expect(computed.length).toBeGreaterThan(recorded.length);
    for (const t of computed) {
      const d = dumped.tensors.get(t.name)!;
      expect([t.name, d.dtype, d.shape]).toEqual([t.name, 'F32', t.shape]);
      if (!Buffer.from(d.bytes).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))) throw new Error(`dumped ${t.name} differs from the in-process computation`);
    }
    // Metric output: sigmoid x 20, so within (0, 20).
    const out = entryToFloat32(dumped.tensors.get('output')!);
    expect(Math.max(...out)).toBeLessThan(20);
    expect(Math.min(...out)).toBeGreaterThan(0);
  });

  test('fails (exit 1, FAIL lines) when the weights are not the reference\'s', async () => {
    const r = await run(...['parity', '--weights', `${caseDir('v2-tiny')}/weights.safetensors`,
      '--reference', `${caseDir('v2-tiny-metric')}/activations.safetensors`, '--config', `${caseDir('v2-tiny-metric')}/config.json`, '--backend', 'cpu']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^pretrained\.tokens\s.*FAIL$/m);
    expect(r.out).toMatch(/: FAIL$/m);
  });

  test('a missing reference is a clear error', async () => {
    await expect(run(...['parity', '--weights', `${caseDir('v2-tiny')}/weights.safetensors`, '--reference', path.join(tmp, 'nope.safetensors'), '--backend', 'cpu']))
      .rejects.toThrow(`cannot read reference ${path.join(tmp, 'nope.safetensors')}: ENOENT`);
  });
});
