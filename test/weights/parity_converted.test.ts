/**
 * End to end through the converter: official .pth and Hugging Face files -> convert -> load ->
 * bind -> forward, compared with the activations the official code recorded.
 */
import * as os from 'os';
import * as path from 'path';
import { promises as fs } from 'fs';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backends/node';
import { convertWeights } from '../../src/cli/convert';
import { bindWeights, disposeWeights } from '../../src/depth/depth_anything';
import { parseSafetensors } from '../../src/io/safetensors';
import { runParity, formatParityReport } from '../../src/verify/parity';
import { loadWeightsFile } from '../../src/node/weights_file';

const FIXTURES = path.resolve(__dirname, '../../../shared/fixtures/parity');
let dir: string;
beforeAll(async () => {
  await initBackend('cpu');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'parity-conv-'));
});
afterAll(async () => { await fs.rm(dir, { recursive: true, force: true }); });

const CASES: Array<[string, 'weights.pth' | 'weights-hf.safetensors']> = [
  ['v2-tiny', 'weights.pth'],
  ['v1-tiny', 'weights-hf.safetensors'],
  ['v2-tiny-metric', 'weights-hf.safetensors'],
];

describe('parity through a converted file', () => {
  it.each(CASES)('%s from %s', async (c, file) => {
    const out = path.join(dir, `${c}-${file}.safetensors`);
    await convertWeights(path.join(FIXTURES, c, file), out, file === 'weights.pth'
      ? { config: path.join(FIXTURES, c, 'config.json') }
      : { hfConfig: path.join(FIXTURES, c, 'hf-config.json') });
    const loaded = await loadWeightsFile(out);
    expect(loaded.configFrom).toBe(`${out} (__metadata__.config)`);
    const reference = parseSafetensors(await fs.readFile(path.join(FIXTURES, c, 'activations.safetensors')), `${c}/activations`);
    const before = tf.memory().numTensors;
    const w = bindWeights(loaded.stateDict, loaded.config!, out);
    try {
      const report = await runParity(w, loaded.config!, reference);
      if (!report.ok) throw new Error(formatParityReport(report));
      expect(report.comparisons.map((r) => r.key)).toContain('output');
      const output = report.comparisons.find((r) => r.key === 'output')!;
      expect(output.relL2).toBeLessThanOrEqual(1e-5);
    } finally {
      disposeWeights(w);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
