/** Shared test helpers: fixture paths, parsed fixtures, backends, closeness. */
import { execFile } from 'child_process';
import { readFileSync } from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { BackendName, initBackend } from '../src/backends/node';
import { ModelConfig, configFromJson } from '../src/config/depth';
import { ParsedSafetensors, entryToFloat32, parseSafetensors } from '../src/io/safetensors';
import { loadWeightsFile } from '../src/node/weights_file';
import { PARITY_TOLERANCE, compareArrays } from '../src/verify/compare';
import { StateDict } from '../src/weights/state_dict';
import { PARITY_CASES } from './fixture_cases';

/** `../shared/fixtures` beside the repository root; never copied into the repo. */
export const FIXTURES = path.resolve(__dirname, '../../shared/fixtures');
const ROOT = path.resolve(__dirname, '..');

/**
 * `depth-anything parity --json ARGS` in a child process (see test/parity/parity_suite.ts for why
 * a child process), its exit code, parsed report and stderr. `what` names the run in errors.
 */
export function parityJson<R>(args: string[], what: string): Promise<{ code: number; report: R; stderr: string }> {
  const argv = [require.resolve('tsx/cli'), 'src/cli/run.ts', 'parity', '--json', ...args];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, argv, { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      try {
        resolve({ code, report: JSON.parse(stdout) as R, stderr });
      } catch {
        reject(new Error(`parity ${what} printed no JSON (exit ${code}):\n${stderr}`));
      }
    });
  });
}

export { PARITY_CASES };
export type ParityCase = (typeof PARITY_CASES)[number];

export const caseDir = (name: string) => path.join(FIXTURES, 'parity', name);

export interface Case {
  name: string;
  config: ModelConfig;
  stateDict: StateDict;
  activations: ParsedSafetensors;
}

const cache = new Map<string, Case>();

export async function loadCase(name: string): Promise<Case> {
  const hit = cache.get(name);
  if (hit) return hit;
  const dir = caseDir(name);
  const config = configFromJson(JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')), name);
  const { stateDict } = await loadWeightsFile(path.join(dir, 'weights.safetensors'));
  const activations = parseSafetensors(readFileSync(path.join(dir, 'activations.safetensors')), `${name}/activations.safetensors`);
  const c = { name, config, stateDict, activations };
  cache.set(name, c);
  return c;
}

export async function useBackend(name: BackendName): Promise<void> {
  const info = await initBackend(name);
  if (info.name !== name) throw new Error(`wanted backend ${name}, got ${info.name}`);
}

/** A recorded activation as a tensor in our layout: maps NCHW -> NHWC, tokens as they are. */
export function activation(c: Case, key: string): tf.Tensor {
  const e = c.activations.tensors.get(key);
  if (!e) throw new Error(`${c.name}: no recorded activation "${key}"`);
  const t = tf.tensor(entryToFloat32(e), e.shape);
  if (e.shape.length !== 4) return t;
  const nhwc = tf.transpose(t, [0, 2, 3, 1]);
  t.dispose();
  return nhwc;
}

/** Relative L2 and max abs error of `ours` against `ref`, and whether they meet the fixtures' tolerances. */
export function closeness(ours: tf.Tensor, ref: tf.Tensor): { relL2: number; maxAbs: number; limit: number; ok: boolean } {
  expect(ours.shape).toEqual(ref.shape);
  return arrayCloseness(ours.dataSync() as Float32Array, ref.dataSync() as Float32Array);
}

/** `closeness` of two arrays of the same length (a length mismatch is never ok). */
export function arrayCloseness(ours: Float32Array, ref: Float32Array): { relL2: number; maxAbs: number; limit: number; ok: boolean } {
  const { relL2, maxAbs, refMax } = compareArrays(ours, ref);
  const limit = PARITY_TOLERANCE.maxAbsFactor * Math.max(1, refMax);
  return { relL2, maxAbs, limit, ok: ours.length === ref.length && relL2 <= PARITY_TOLERANCE.relL2 && maxAbs <= limit };
}

/** Asserts the fixtures README's rule on two arrays: relative L2 <= 1e-5 and max abs <= 1e-4 x max(1, max|ref|). */
export function expectArrayParity(ours: Float32Array, ref: Float32Array, what: string): void {
  const r = arrayCloseness(ours, ref);
  if (!r.ok) throw new Error(`${what}: ${ours.length === ref.length ? '' : `${ours.length} values, ${ref.length} in the reference; `}relL2 ${r.relL2.toExponential(2)} (<= 1e-5), maxAbs ${r.maxAbs.toExponential(2)} (<= ${r.limit.toExponential(1)})`);
}

/** Asserts fixtures-README parity: relative L2 <= 1e-5 and max abs <= 1e-4 x max(1, max|ref|). */
export function expectParity(ours: tf.Tensor, ref: tf.Tensor, what: string): void {
  const r = closeness(ours, ref);
  if (!r.ok) throw new Error(`${what}: relL2 ${r.relL2.toExponential(2)} (<= 1e-5), maxAbs ${r.maxAbs.toExponential(2)} (<= ${r.limit.toExponential(1)})`);
}
