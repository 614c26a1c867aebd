/**
 * Distributed work on BullMQ + Redis: what a job is (one input and the options of `predict` or
 * `segment`), its id (derived from both, so submitting again adds nothing twice), how a worker
 * checks job data it cannot trust, and the worker itself (src/node/run_job.ts does the work,
 * exactly as the CLI). Delivery is at least once; outputs are atomic and idempotent, so a job run
 * twice (a worker killed after writing, before acknowledging) writes the same files again.
 * See docs/at-scale.md.
 */
import { createHash } from 'crypto';
import { promises as fs } from 'fs';
import * as path from 'path';
import { Job, JobsOptions, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Logger } from 'pino';
import { COLORMAP_NAMES, ColormapName } from '../pipeline/colormap';
import { checkInputSize } from '../pipeline/preprocess';
import { OUTPUT_FORMATS, OutputFormat } from '../node/outputs';
import { DepthJobOptions, SegmentJobOptions, depthJob, segmentImageJob } from '../node/run_job';
import { SEG_OUTPUT_FORMATS, SegOutputFormat } from '../node/seg_outputs';
import { NORMALIZE_MODES, NormalizeMode } from '../node/video/normalize';
import { ServedModel } from './http';

export type JobData =
  | { task: 'depth'; input: string; stem: string; options: DepthJobOptions }
  | { task: 'segment'; input: string; stem: string; options: SegmentJobOptions };

export interface JobResult {
  outputs: string[];
  seconds: number;
  note?: string;
}

/** How the queue retries: transient failures (storage hiccups) with exponential backoff; deterministic ones never. */
export const JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 2000 },
  // Kept a week (completed) and a month (failed) so that a second submit finds them and adds nothing.
  removeOnComplete: { age: 7 * 24 * 3600 },
  removeOnFail: { age: 30 * 24 * 3600 },
};

/** Redis connection options for BullMQ: commands wait for a reconnection instead of failing (Redis restarts). */
export function connection(url: string): { url: string; maxRetriesPerRequest: null } {
  return { url, maxRetriesPerRequest: null };
}

/** A stable id from the job's content: the same input and options give the same id. */
export function jobId(data: JobData): string {
  return `da-${createHash('sha256').update(JSON.stringify(canonical(data))).digest('hex').slice(0, 40)}`;
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  return v;
}

/** Job data that cannot be run (wrong shape, a path outside the roots): never retried. */
export class JobDataError extends Error {
  constructor(message: string) { super(message); this.name = 'JobDataError'; }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function str(o: Record<string, unknown>, k: string): string {
  const v = o[k];
  if (typeof v !== 'string' || !v || v.includes('\0')) throw new JobDataError(`job data: "${k}" must be a non-empty string`);
  return v;
}

function optNum(o: Record<string, unknown>, k: string, check: (n: number) => boolean): number | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !check(v)) throw new JobDataError(`job data: options.${k} is not valid (${JSON.stringify(v)})`);
  return v;
}

function formats<T extends string>(o: Record<string, unknown>, known: readonly T[]): T[] {
  const f = o.format;
  if (!Array.isArray(f) || !f.length || !f.every((x) => known.includes(x as T))) throw new JobDataError(`job data: options.format must list some of ${known.join(', ')}`);
  return [...new Set(f as T[])];
}

function oneOf<T extends string>(o: Record<string, unknown>, k: string, known: readonly T[]): T | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (!known.includes(v as T)) throw new JobDataError(`job data: options.${k} must be one of ${known.join(', ')}`);
  return v as T;
}

/**
 * Checks job data taken from Redis and rebuilds it from the fields a job may have (anything else
 * is dropped): types, known formats, a stem that stays inside its output folder.
 */
export function parseJobData(raw: unknown): JobData {
  if (!isObj(raw) || !isObj(raw.options)) throw new JobDataError('job data: expected { task, input, stem, options }');
  const input = str(raw, 'input');
  const stem = str(raw, 'stem');
  if (path.isAbsolute(stem) || stem.split(/[\\/]/).some((s) => s === '..' || s === '')) throw new JobDataError(`job data: stem "${stem}" must be a relative name without ".." or empty parts`);
  const o = raw.options;
  const outdir = str(o, 'outdir');
  const pos = (n: number) => Number.isFinite(n) && n > 0;
  const posInt = (n: number) => Number.isInteger(n) && n > 0;
  if (raw.task === 'depth') {
    const inputSize = optNum(o, 'inputSize', posInt) ?? 518;
    try { checkInputSize(inputSize); } catch (e) { throw new JobDataError(`job data: ${(e as Error).message}`); }
    const bool = (k: string): boolean | undefined => {
      if (o[k] === undefined) return undefined;
      if (typeof o[k] !== 'boolean') throw new JobDataError(`job data: options.${k} must be true or false`);
      return o[k] as boolean;
    };
    const options: DepthJobOptions = {
      outdir, inputSize, format: formats<OutputFormat>(o, OUTPUT_FORMATS), colormap: oneOf<ColormapName>(o, 'colormap', COLORMAP_NAMES) ?? 'spectral_r',
      predOnly: bool('predOnly'), grayscale: bool('grayscale'), pad: bool('pad'), flip: bool('flip'), sideBySide: bool('sideBySide'),
      focalLengthX: optNum(o, 'focalLengthX', pos), focalLengthY: optNum(o, 'focalLengthY', pos),
      normalize: oneOf<NormalizeMode>(o, 'normalize', NORMALIZE_MODES), maxFrames: optNum(o, 'maxFrames', posInt), frameStep: optNum(o, 'frameStep', posInt),
      start: optNum(o, 'start', (n) => Number.isFinite(n) && n >= 0), end: optNum(o, 'end', pos),
    };
    return { task: 'depth', input, stem, options };
  }
  if (raw.task === 'segment') {
    const options: SegmentJobOptions = {
      outdir, format: formats<SegOutputFormat>(o, SEG_OUTPUT_FORMATS), mode: oneOf(o, 'mode', ['whole', 'slide'] as const),
      crop: optNum(o, 'crop', posInt), stride: optNum(o, 'stride', posInt),
    };
    return { task: 'segment', input, stem, options };
  }
  throw new JobDataError(`job data: task must be "depth" or "segment", got ${JSON.stringify(raw.task)}`);
}

/** `p` resolved through symlinks must lie inside `root` (itself resolved): job data names only paths the operator allowed. */
async function insideRoot(root: string, p: string, what: string): Promise<string> {
  const realRoot = await fs.realpath(root);
  let real: string;
  try {
    real = await fs.realpath(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new JobDataError(`${what} ${p}: not found`);
    throw e;
  }
  if (real !== realRoot && !real.startsWith(realRoot + path.sep)) throw new JobDataError(`${what} ${p} is outside this worker's ${what === 'input' ? '--input-root' : '--output-root'} ${root}`);
  return real;
}

/** The deepest existing folder of `dir`, to check before creating the rest. */
async function existingAncestor(dir: string): Promise<string> {
  let d = path.resolve(dir);
  for (;;) {
    const st = await fs.stat(d).catch(() => undefined);
    if (st) return d;
    const up = path.dirname(d);
    if (up === d) return d;
    d = up;
  }
}

/** Error codes of storage that may work on a later try (network filesystems, full disks being cleaned, limits). */
const TRANSIENT_CODES = new Set(['EAGAIN', 'EBUSY', 'EIO', 'EMFILE', 'ENFILE', 'ENOSPC', 'ESTALE', 'ETIMEDOUT', 'ECONNRESET', 'EINTR', 'EDQUOT', 'EHOSTDOWN']);

export function isTransient(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code && TRANSIENT_CODES.has(code)) return true;
  // OutputError and friends wrap the filesystem's message: look for the code in it.
  return /\b(EAGAIN|EBUSY|EIO|EMFILE|ENFILE|ENOSPC|ESTALE|ETIMEDOUT|EDQUOT)\b/.test((e as Error)?.message ?? '');
}

export interface WorkerOptions {
  redis: string;
  queue: string;
  concurrency: number;
  inputRoot: string;
  outputRoot: string;
  served: ServedModel;
  log: Logger;
  /** Milliseconds a job's lock lasts without renewal (BullMQ lockDuration): how soon a dead worker's job returns. */
  lockDuration?: number;
  /** Milliseconds between checks for stalled jobs (BullMQ stalledInterval). */
  stalledInterval?: number;
  /** This worker's name, recorded on the jobs it takes (job.processedBy). */
  name?: string;
}

/** Runs one job's data with the loaded model; throws UnrecoverableError for what a retry cannot fix. */
export async function processJob(job: Pick<Job, 'data' | 'updateProgress' | 'id'>, opts: Pick<WorkerOptions, 'inputRoot' | 'outputRoot' | 'served'>): Promise<JobResult> {
  const t0 = Date.now();
  try {
    const data = parseJobData(job.data);
    if (data.task !== opts.served.task) throw new JobDataError(`a ${data.task} job reached a ${opts.served.task} worker: use one queue per model`);
    const input = await insideRoot(opts.inputRoot, data.input, 'input');
    const st = await fs.stat(input);
    if (!st.isFile()) throw new JobDataError(`input ${data.input} is not a file`);
    // The output folder: inside the output root, also through symlinks of its existing part.
    const outdir = path.resolve(data.options.outdir);
    await insideRoot(opts.outputRoot, await existingAncestor(outdir), 'output');
    const rel = path.relative(path.resolve(opts.outputRoot), outdir);
    if (rel.startsWith('..') || path.isAbsolute(rel)) throw new JobDataError(`output ${outdir} is outside this worker's --output-root ${opts.outputRoot}`);
    await fs.mkdir(outdir, { recursive: true });
    await insideRoot(opts.outputRoot, outdir, 'output');
    const protectedPaths = new Set([input, path.resolve(data.input)]);
    let lastProgress = 0;
    const onProgress = (done: number, total: number | undefined): void => {
      if (Date.now() - lastProgress < 500) return;
      lastProgress = Date.now();
      void job.updateProgress({ done, total: total ?? null }).catch(() => undefined);
    };
    let outputs: string[];
    let note = '';
    if (data.task === 'depth' && opts.served.task === 'depth') {
      ({ written: outputs, note } = await depthJob(opts.served.model, input, data.stem, { ...data.options, outdir }, protectedPaths, onProgress));
    } else if (data.task === 'segment' && opts.served.task === 'segment') {
      outputs = await segmentImageJob(opts.served.model, input, data.stem, { ...data.options, outdir }, protectedPaths);
    } else {
      throw new JobDataError('unreachable: task mismatch');
    }
    return { outputs, seconds: (Date.now() - t0) / 1000, ...(note ? { note: note.replace(/, $/, '') } : {}) };
  } catch (e) {
    if (isTransient(e)) throw e;
    throw new UnrecoverableError((e as Error)?.message ?? String(e));
  }
}

/** A BullMQ worker over the loaded model, and `stop()`: no new job; those in hand finish and are acknowledged; then closed. */
export function startWorker(opts: WorkerOptions): { worker: Worker<unknown, JobResult>; stop(): Promise<void> } {
  // Jobs taken and not yet acknowledged (completed or failed in Redis). Worker.close() alone
  // returned before the job in hand had finished after a Redis reconnection (bullmq 6.7):
  // stop() waits on these itself.
  const inHand = new Map<string, () => void>();
  const settled = (id?: string): void => { if (id) { inHand.get(id)?.(); inHand.delete(id); } };
  const worker = new Worker<unknown, JobResult>(opts.queue, (job) => {
    inHand.set(job.id!, inHand.get(job.id!) ?? (() => undefined));
    opts.log.info({ job: job.id, input: (job.data as Partial<JobData>)?.input, attempt: job.attemptsMade + 1 }, 'started');
    return processJob(job, opts);
  }, {
    connection: connection(opts.redis),
    concurrency: opts.concurrency,
    name: opts.name,
    lockDuration: opts.lockDuration ?? 30_000,
    stalledInterval: opts.stalledInterval ?? 30_000,
    // A job whose worker died twice is failed rather than retried forever (a poison input that kills workers).
    maxStalledCount: 2,
  });
  worker.on('completed', (job, r) => {
    opts.log.info({ job: job.id, input: (job.data as JobData).input, outputs: r.outputs, seconds: r.seconds }, 'completed');
    settled(job.id);
  });
  worker.on('failed', (job, err) => {
    opts.log.warn({ job: job?.id, input: (job?.data as JobData | undefined)?.input, err: err.message, attempt: job?.attemptsMade }, 'failed');
    settled(job?.id);
  });
  worker.on('error', (err) => opts.log.error({ err: err.message }, 'worker error'));
  const stop = async (): Promise<void> => {
    await worker.pause(true); // takes no new job (also not the one a completion would fetch next)
    await Promise.all([...inHand.keys()].map((id) => new Promise<void>((resolve) => inHand.set(id, resolve))));
    await worker.close();
  };
  return { worker, stop };
}

/** A queue handle for submit and jobs. */
export function openQueue(redis: string, name: string): Queue {
  return new Queue(name, { connection: connection(redis), defaultJobOptions: JOB_OPTIONS });
}
