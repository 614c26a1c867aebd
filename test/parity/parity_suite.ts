/**
 * Every recorded tensor of every fixture case within the fixtures README's tolerances, on one
 * backend (one test file per backend, so jest runs them side by side). Pass
 * `PARITY_CASES=v2-tiny,v1-tiny` to run a subset while developing.
 */
import * as tf from '@tensorflow/tfjs-core';
import { bindWeights, disposeWeights } from '../../src/depth_anything';
import { REQUIRED_KEYS, runParity } from '../../src/parity';
import { PARITY_CASES, loadCase, useBackend } from '../helpers';

const selected = process.env.PARITY_CASES ? process.env.PARITY_CASES.split(',') : [...PARITY_CASES];

export function parityOn(backend: 'cpu' | 'wasm'): void {
  describe(`parity on ${backend}`, () => {
    beforeAll(async () => useBackend(backend));

    test.each(selected)('%s: every recorded tensor within tolerance', async (name) => {
      const c = await loadCase(name);
      const w = bindWeights(c.stateDict, c.config, name);
      const before = tf.memory().numTensors;
      const report = await runParity(w, c.config, c.activations);
      expect(tf.memory().numTensors).toBe(before);
      disposeWeights(w);

      const failures = report.comparisons.filter((r) => !r.ok).map((r) => `${r.key}: relL2 ${r.relL2}, maxAbs ${r.maxAbs} (limit ${r.maxAbsLimit})`);
      expect(failures).toEqual([]);
      // Every float tensor the reference records is one this model computes and compares.
      expect(report.notComputed).toEqual([]);
      const compared = new Set(report.comparisons.map((r) => r.key));
      // The seams the issue names, wherever the reference records them (the full-size case keeps
      // only the main ones).
      const recorded = REQUIRED_KEYS.filter((k) => c.activations.tensors.has(k));
      expect(recorded).toContain('output');
      for (const key of recorded) expect(compared.has(key)).toBe(true);
      for (let i = 0; i < 4; i++) {
        for (const key of [`features.${i}.cls`, `depth_head.projects.${i}`, `depth_head.resize_layers.${i}`]) expect(compared.has(key)).toBe(true);
      }
      expect(report.ok).toBe(true);
      const worst = Math.max(...report.comparisons.map((r) => r.relL2));
      console.log(`${backend} ${name}: ${report.comparisons.length} tensors, worst relL2 ${worst.toExponential(2)}`);
    });
  });
}
