/**
 * Both segmentation fixture cases through `depth-anything parity --json` in a child process (as
 * the depth suite does): every float tensor the reference records is computed and within the
 * fixtures' tolerances, no attention-mask bit and no argmax pixel differs beyond its recorded
 * margin, and the slide boxes are equal; the backend's tensors (and on GPU backends its GPU
 * buffers or textures in use) are where they were before the run. One test file per backend and
 * place (Node, or headless Chromium with `parity --browser`).
 */
import { readFileSync } from 'fs';
import * as path from 'path';
import { entryToFloat32, parseSafetensors } from '../../src/io/safetensors';
import type { TensorComparison } from '../../src/verify/compare';
import { BitComparison, SegParityReport, SegParityRunInfo, entryToNumbers } from '../../src/verify/seg_parity';
import { FIXTURES, parityJson } from '../helpers';

export const SEG_FIXTURES = path.join(FIXTURES, 'seg');
/** The whole case from the mmengine .pth, the slide case from safetensors: both readers covered. */
const CASES: ReadonlyArray<[string, string]> = [['seg-tiny', 'weights.pth'], ['seg-tiny-slide', 'weights.safetensors']];
/** The cases the segmentation parity suites run (test/fixture_cases.test.ts checks no seg/ folder is left out). */
export const SEG_CASES: readonly string[] = CASES.map(([name]) => name);

/** The slide case's files and recorded outputs, as the Segmenter tests use them (weights: seg-tiny's .pth). */
export function slideCase() {
  const dir = path.join(SEG_FIXTURES, 'seg-tiny-slide');
  const ref = parseSafetensors(readFileSync(path.join(dir, 'activations.safetensors')), 'seg-tiny-slide');
  return {
    weights: path.join(SEG_FIXTURES, 'seg-tiny', 'weights.pth'),
    config: path.join(dir, 'config.json'),
    image: path.join(dir, 'image.png'),
    ref,
    labels: entryToNumbers(ref.tensors.get('pred_sem_seg')!),
    logits: entryToFloat32(ref.tensors.get('seg_logits')!),
  };
}

type JsonReport = { ok: boolean; comparisons: TensorComparison[]; notComputed: string[]; masks: BitComparison[]; labels: SegParityReport['labels']; boxes?: SegParityReport['boxes'] } & SegParityRunInfo;

function parityCli(name: string, backend: string, weights: string, browser: boolean): Promise<{ code: number; report: JsonReport; stderr: string }> {
  const dir = path.join(SEG_FIXTURES, name);
  const args = ['--backend', backend, '--threads', '1',
    '--weights', path.join(dir, weights), '--config', path.join(dir, 'config.json'), '--reference', path.join(dir, 'activations.safetensors')];
  if (backend !== 'wasm') args.splice(args.indexOf('--threads'), 2);
  if (browser) args.push('--browser');
  return parityJson<JsonReport>(args, `${name} on ${backend}${browser ? ' in Chromium' : ''}`);
}

/**
 * `browser`: run the comparison inside headless Chromium (parity --browser). `cases`: which of
 * seg-tiny, seg-tiny-slide (default both).
 */
export function segParityOn(backend: 'cpu' | 'wasm' | 'webgpu' | 'webgl', opts: { browser?: boolean; cases?: readonly string[] } = {}): void {
  const cases = CASES.filter(([name]) => !opts.cases || opts.cases.includes(name));
  const place = opts.browser ? ' in Chromium' : '';
  describe(`segmentation parity on ${backend}${place}`, () => {
    test.each(cases)('%s (%s): every recorded tensor, mask bit and label', async (name, weights) => {
      const { code, report, stderr } = await parityCli(name, backend, weights, Boolean(opts.browser));
      expect(stderr).toContain(`backend: ${backend}`);
      expect(report.backend).toBe(backend);
      expect(report.place).toBe(opts.browser ? 'chromium' : 'node');
      // No tensor left behind; on GPU backends no GPU buffer (webgpu) or texture (webgl) either.
      expect(report.memory.after).toEqual(report.memory.before);
      if (backend === 'webgpu' || backend === 'webgl') expect(report.memory.after.gpuResources).toBeDefined();
      const failures = report.comparisons.filter((r) => !r.ok).map((r) => `${r.key}: relL2 ${r.relL2}, maxAbs ${r.maxAbs} (limit ${r.maxAbsLimit})`);
      expect(failures).toEqual([]);
      expect(report.notComputed).toEqual([]);
      const ref = parseSafetensors(readFileSync(path.join(SEG_FIXTURES, name, 'activations.safetensors')), name);
      const floats = [...ref.tensors].filter(([k, e]) => k !== 'input' && e.dtype.startsWith('F')).map(([k]) => k);
      expect(report.comparisons.map((c) => c.key).sort()).toEqual(floats.sort());
      const maskKeys = [...ref.tensors.keys()].filter((k) => k.endsWith('.attn_mask'));
      expect(report.masks.map((m) => m.key).sort()).toEqual(maskKeys.sort());
      // The recorded margins (>= 2.5e-4) leave every bit decidable in float32: none may differ.
      for (const m of report.masks) expect(m.differing).toBe(0);
      expect(report.labels!.ok).toBe(true);
      expect(report.labels!.total).toBe(ref.tensors.get('pred_sem_seg')!.shape.reduce((a, b) => a * b, 1));
      if (name === 'seg-tiny-slide') expect(report.boxes?.ok).toBe(true);
      for (const key of ['seg_logits', 'decode_head.predict', 'encode_decode', 'inference']) {
        if (ref.tensors.has(key)) expect(report.comparisons.some((c) => c.key === key && c.ok)).toBe(true);
      }
      expect(report.ok).toBe(true);
      expect(code).toBe(0);
      const worst = Math.max(...report.comparisons.map((r) => r.relL2));
      console.log(`${backend}${place} ${name}: ${report.comparisons.length} tensors, worst relL2 ${worst.toExponential(2)}, ${report.masks.reduce((a, m) => a + m.differing, 0)} mask bits and ${report.labels!.differing} labels differ, ${(report.ms / 1000).toFixed(1)} s`);
    }, 10 * 60 * 1000);
  });
}
