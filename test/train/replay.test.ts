/**
 * The training fixture cases replayed step by step (data pipeline with the recorded random
 * choices, forward, losses, every gradient of step 1, AdamW, the schedule) on wasm and cpu, and
 * the metric case on webgpu in Node (Mesa's software adapter; the relative recipe reads the
 * prediction inside the loss, to pick medians, which tfjs-webgpu cannot do synchronously in Node),
 * compared with the PyTorch record at the tolerances of each case's config.json. Also: the
 * number of tensors is the same after every step (nothing leaks across steps) and back to where
 * it was once the trainer is disposed.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { FIXTURES, useBackend } from '../helpers';
import { TRAIN_CASES } from '../fixture_cases';
import { loadTrainCase } from '../../src/verify/train_case';
import { replayTrainCase, summarizeReplay } from '../../src/verify/train_replay';

const RUNS: Array<[string, readonly string[]]> = [['wasm', TRAIN_CASES], ['cpu', TRAIN_CASES], ['webgpu', ['train-metric-tiny']]];

describe.each(RUNS)('training replay on %s', (backend, cases) => {
  beforeAll(async () => { await useBackend(backend as 'wasm' | 'cpu' | 'webgpu'); });

  test.each(cases)('%s: every recorded tensor within its tolerance, no tensor leaked', async (name) => {
    const c = await loadTrainCase(path.join(FIXTURES, 'train', name));
    const before = tf.memory().numTensors;
    const r = await replayTrainCase(c);
    const summary = summarizeReplay(r);
    console.log(summary.join('\n'));
    expect(r.rows.filter((x) => !x.ok)).toEqual([]);
    // Every gradient of step 1 and every parameter after each recorded step were compared.
    expect(r.rows.filter((x) => x.kind === 'grad').length).toBe(c.grads.tensors.size);
    expect(r.rows.filter((x) => x.kind.startsWith('param.')).length).toBeGreaterThan(0);
    expect(r.losses.length).toBe(c.json.steps.length);
    expect(new Set(r.numTensorsAfterStep).size).toBe(1);
    // What `train --dump` writes: every recorded gradient and parameter under the fixture's keys.
    const dumped = new Set(r.computed.map((t) => t.name));
    expect([...c.grads.tensors.keys(), ...[...c.params.tensors.keys()].filter((k) => k.startsWith('param.'))].filter((k) => !dumped.has(k))).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
