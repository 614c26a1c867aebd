/** Helpers shared by the CLI commands: backend and weights options, config files. */
import { promises as fs } from 'fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { BACKEND_NAMES, BackendName, initBackend } from '../backends/node';
import { ModelConfig, configFromJson } from '../config/depth';
import { parseSafetensors } from '../io/safetensors';
import { writeFileAtomic } from '../node/atomic';

export function backendOption(): Option {
  return new Option('--backend <name>', 'tfjs backend').choices(BACKEND_NAMES as string[]).default('auto');
}

/** Parses a positive integer option value, naming the flag when it is not one. */
export function positiveInt(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} must be a positive integer; got "${v}"`);
    return n;
  };
}

export function threadsOption(): Option {
  return new Option('--threads <n>', 'wasm threads (default: logical cores, or DEPTH_ANYTHING_THREADS)').argParser(positiveInt('--threads'));
}

/** Starts the backend and says which one runs (on stderr, so stdout stays clean for --json). */
export async function startBackend(name: string, threads?: number, quiet = false): Promise<void> {
  const info = await initBackend(name as BackendName, threads !== undefined ? { threads } : {});
  if (!quiet) process.stderr.write(`backend: ${info.description}\n`);
}

/** Reads a config file in the fixtures' schema (`config.json`). */
export async function readConfigFile(path: string): Promise<ModelConfig> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read config file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`config file ${path} is not valid JSON: ${(e as Error).message}`);
  }
  return configFromJson(json, path);
}

export type { Command };

/**
 * How `parity` ends, for depth and segmentation weights alike: the JSON line (`--json`) or the
 * text report, the `--dump` file, and the exit status.
 */
export async function finishParity(opts: { json?: boolean; dump?: string }, ok: boolean, json: object, text: string, dump: Uint8Array | undefined): Promise<void> {
  if (opts.json) process.stdout.write(`${JSON.stringify(json)}\n`);
  else console.log(text);
  if (opts.dump && dump) {
    await writeFileAtomic(opts.dump, dump);
    process.stderr.write(`wrote ${parseSafetensors(dump, opts.dump).tensors.size} tensors to ${opts.dump}\n`);
  }
  process.exitCode = ok ? 0 : 1;
}

/** A parity reference file's bytes, or one line naming the file and why it cannot be read. */
export async function readReferenceBytes(file: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (e) {
    throw new Error(`cannot read reference ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
