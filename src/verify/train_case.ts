/**
 * A training fixture case (../shared/fixtures/train/<case>/, its README), read for replay, and the
 * comparison rule of its config.json `precision.tolerances`: per tensor relL2 against the recorded
 * float32 values, losses by their relative error, `attn.qkv.bias` params and updates without the
 * key slice [C:2C], a tensor listed in `overrides` at its own value; masks and indices exactly.
 */
import { readFileSync } from 'fs';
import * as path from 'path';
import { ModelConfig, configFromJson } from '../config/depth';
import { ParsedSafetensors, SafetensorsEntry, entryToFloat32, parseSafetensors } from '../io/safetensors';
import { loadWeightsFile } from '../node/weights_file';
import { StateDict } from '../weights/state_dict';
import { compareArrays } from './compare';

export type ToleranceKind = 'loss' | 'grad' | 'param' | 'update';

export interface Tolerances {
  loss: number;
  grad: number;
  param: number;
  update: number;
  overrides: Record<'grad' | 'param' | 'update', Record<string, number>>;
}

export interface TrainCase {
  name: string;
  dir: string;
  /** config.json as recorded. */
  json: Record<string, unknown> & { steps: Array<Record<string, unknown>>; precision: { tolerances: Tolerances } };
  weights: StateDict;
  steps: ParsedSafetensors;
  params: ParsedSafetensors;
  grads: ParsedSafetensors;
}

const readTensors = (dir: string, file: string, name: string) => parseSafetensors(readFileSync(path.join(dir, file)), `${name}/${file}`);

export async function loadTrainCase(dir: string): Promise<TrainCase> {
  const name = path.basename(dir);
  const json = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as TrainCase['json'];
  const { stateDict } = await loadWeightsFile(path.join(dir, 'weights.safetensors'), { config: modelConfigOf((json.model ?? json.student) as Record<string, unknown>, name) });
  return { name, dir, json, weights: stateDict, steps: readTensors(dir, 'steps.safetensors', name), params: readTensors(dir, 'params.safetensors', name), grads: readTensors(dir, 'grads.safetensors', name) };
}

/** A model block of config.json (`model`, `student`, `teacher`) as our configuration. */
export function modelConfigOf(j: Record<string, unknown>, source: string): ModelConfig {
  return configFromJson({ ...j, max_depth: j.max_depth ?? undefined }, source);
}

export function entry(t: ParsedSafetensors, key: string): SafetensorsEntry {
  const e = t.tensors.get(key);
  if (!e) throw new Error(`${t.source}: no tensor "${key}"`);
  return e;
}

export const floats = (t: ParsedSafetensors, key: string): Float32Array => entryToFloat32(entry(t, key), t.source);

/** An integer or mask tensor (U8, I64) as numbers. */
export function ints(t: ParsedSafetensors, key: string): number[] {
  const e = entry(t, key);
  const dv = new DataView(e.bytes.buffer, e.bytes.byteOffset, e.bytes.byteLength);
  if (e.dtype === 'U8' || e.dtype === 'BOOL') return Array.from(e.bytes);
  if (e.dtype === 'I64') return Array.from({ length: e.bytes.byteLength / 8 }, (_, i) => Number(dv.getBigInt64(i * 8, true)));
  if (e.dtype === 'F64') return Array.from({ length: e.bytes.byteLength / 8 }, (_, i) => dv.getFloat64(i * 8, true));
  throw new Error(`${t.source}: "${key}" is ${e.dtype}, not an integer tensor`);
}

export interface ParityRow {
  key: string;
  kind: string;
  relL2: number;
  limit: number;
  ok: boolean;
}

export function toleranceOf(tol: Tolerances, kind: ToleranceKind, name: string): number {
  if (kind === 'loss') return tol.loss;
  return tol.overrides[kind]?.[name] ?? tol[kind];
}

/** Drops `attn.qkv.bias`'s key slice [C:2C] (its gradient is exactly zero; see the README). */
export function withoutKeyBias(name: string, a: Float32Array): Float32Array {
  if (!name.endsWith('attn.qkv.bias')) return a;
  const C = a.length / 3;
  const out = new Float32Array(2 * C);
  out.set(a.subarray(0, C));
  out.set(a.subarray(2 * C), C);
  return out;
}

export function relRow(key: string, kind: string, ours: Float32Array, ref: Float32Array, limit: number): ParityRow {
  if (ours.length !== ref.length) return { key, kind, relL2: Infinity, limit, ok: false };
  const { relL2 } = compareArrays(ours, ref);
  return { key, kind, relL2, limit, ok: relL2 <= limit };
}

export function lossRow(key: string, ours: number, ref: number, limit: number): ParityRow {
  // A recorded 0 (a part that does not exist, e.g. rho_{1-M} without CutMix) must be 0.
  const rel = ref === 0 ? Math.abs(ours) : Math.abs(ours - ref) / Math.abs(ref);
  return { key, kind: 'loss', relL2: rel, limit, ok: rel <= limit };
}

export function exactRow(key: string, kind: string, ours: ArrayLike<number>, ref: ArrayLike<number>): ParityRow {
  let diff = ours.length === ref.length ? 0 : Infinity;
  for (let i = 0; i < Math.min(ours.length, ref.length); i++) if (ours[i] !== ref[i]) diff++;
  return { key, kind, relL2: diff, limit: 0, ok: diff === 0 };
}

/** NHWC -> NCHW for a batch of C-channel maps. */
export function toNchw(x: Float32Array, B: number, H: number, W: number, C: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < B; b++) for (let y = 0; y < H; y++) for (let xx = 0; xx < W; xx++) for (let c = 0; c < C; c++) {
    out[((b * C + c) * H + y) * W + xx] = x[((b * H + y) * W + xx) * C + c];
  }
  return out;
}

/** The worst row of each kind. */
export function worstByKind(rows: ParityRow[]): Record<string, ParityRow> {
  const out: Record<string, ParityRow> = {};
  for (const r of rows) if (!out[r.kind] || r.relL2 / (r.limit || 1) > out[r.kind].relL2 / (out[r.kind].limit || 1)) out[r.kind] = r;
  return out;
}
