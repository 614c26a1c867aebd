/** The `parity` command as a user runs it: output lines, exit status, --dump layouts. */
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli as run } from './run_cli';
import { entryToFloat32, parseSafetensors } from '../../src/io/safetensors';
import { caseDir } from '../helpers';

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
    for (const key of ['pretrained.tokens', 'depth_head.resize_layers.0', 'output']) {
      expect(dumped.tensors.get(key)!.shape).toEqual(ref.tensors.get(key)!.shape);
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
