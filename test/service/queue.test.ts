/**
 * worker / submit / jobs on a real redis-server (each test starts its own): two workers with one
 * SIGKILLed mid-job (BullMQ's stalled-job recovery), a bad input among good ones (failed once, not
 * retried), Redis restarted mid-run, SIGTERM finishing the job in hand, untrusted job data.
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Queue } from 'bullmq';
import { Cli, Redis, TINY, cli, listFiles, png, startRedis } from './helpers';
import { runCli } from '../cli/run_cli';
import { JobData, connection, processJob } from '../../src/service/jobs';

const SIZE = '140';
const started: Cli[] = [];
let dir: string;
let redis: Redis | undefined;

beforeEach(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'da-queue-')); });
afterEach(async () => {
  for (const p of started.splice(0)) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await redis?.dispose();
  redis = undefined;
  await fs.rm(dir, { recursive: true, force: true });
});

async function images(n: number): Promise<string> {
  const input = path.join(dir, 'in');
  await fs.mkdir(input, { recursive: true });
  for (let k = 0; k < n; k++) await fs.writeFile(path.join(input, `img${String(k).padStart(2, '0')}.png`), await png(48 + k, 36, k + 1));
  return input;
}

function worker(name: string, extra: string[] = []): Cli {
  const w = cli(['worker', '--redis', redis!.url, '--queue', 'q', '--input-root', dir, '--output-root', dir, '--weights', TINY, '--backend', 'wasm', '--threads', '1',
    '--lock-duration', '2000', '--stalled-interval', '1000', '--name', name, ...extra]);
  started.push(w);
  return w;
}

function submit(input: string, out: string): Cli {
  const s = cli(['submit', '--redis', redis!.url, '--queue', 'q', '--outdir', out, '--format', 'npy', '--input-size', SIZE, '--wait', input]);
  started.push(s);
  return s;
}

/**
 * `c` exits within `ms`, else a failure with every process's logs (a hang here once sat out jest's
 * 600 s timeout on a busy CI machine without saying which process hung, or why).
 */
async function exitsWithin(c: Cli, ms: number, what: string, ...others: Cli[]): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not exit within ${ms} ms; its stderr:\n${c.err()}\n${others.map((o, k) => `other process ${k + 1}'s stderr:\n${o.err()}`).join('\n')}`)), ms);
  });
  try {
    return await Promise.race([c.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** predict's own outputs for the same images, to compare with. */
async function predicted(input: string): Promise<string> {
  const ref = path.join(dir, 'ref');
  const r = await runCli('predict', input, '--weights', TINY, '--backend', 'wasm', '--threads', '1', '--input-size', SIZE, '--format', 'npy', '--outdir', ref);
  expect(r.err).toContain('done: ');
  return ref;
}

async function expectSameAsPredict(out: string, ref: string, n: number): Promise<void> {
  const files = await listFiles(out);
  // Every output, and nothing else: no temporary file left by the killed worker.
  expect(files).toEqual(Array.from({ length: n }, (_, k) => `img${String(k).padStart(2, '0')}_depth.npy`));
  for (const f of files) expect((await fs.readFile(path.join(out, f))).equals(await fs.readFile(path.join(ref, f)))).toBe(true);
}

test('two workers, one SIGKILLed mid-job: every output present and equal to predict, no temp file; the bad input fails alone, once', async () => {
  redis = await startRedis();
  const input = await images(10);
  await fs.writeFile(path.join(input, 'bad.png'), 'not an image at all');
  const a = worker('a');
  const b = worker('b');
  await Promise.all([a.waitFor(/worker ready/), b.waitFor(/worker ready/)]);
  const out = path.join(dir, 'out');
  const s = submit(input, out);
  // Once A has finished a job it holds the next one: kill it there.
  await a.waitFor(/"msg":"completed"/);
  a.child.kill('SIGKILL');
  const queue = new Queue('q', { connection: connection(redis.url) });
  try {
    const held = (await queue.getActive()).filter((j) => j.processedBy === 'a');
    expect(held.length).toBe(1); // A died holding a job
    const { code } = await s.exited;
    expect(s.err()).toMatch(/done: 10 completed, 1 failed/);
    expect(s.err()).toContain(`FAILED ${path.join(input, 'bad.png')}: not a supported image (JPEG, PNG, WebP, TIFF, GIF, AVIF)`);
    expect(code).toBe(1);
    const heldJob = await queue.getJob(held[0].id!);
    expect(await heldJob!.getState()).toBe('completed');
    expect(heldJob!.processedBy).toBe('b'); // recovered from A and completed by B
    const failed = await queue.getFailed();
    expect(failed.map((j) => [(j.data as JobData).input, j.attemptsMade])).toEqual([[path.join(input, 'bad.png'), 1]]); // deterministic: not retried
  } finally {
    await queue.close();
  }
  await fs.rm(path.join(input, 'bad.png'));
  await expectSameAsPredict(out, await predicted(input), 10);

  // Submitting again adds nothing; `jobs` reports the counts and the failure.
  const again = cli(['submit', '--redis', redis.url, '--queue', 'q', '--outdir', out, '--format', 'npy', '--input-size', SIZE, input]);
  await again.exited;
  expect(again.err()).toContain('submitted 0 jobs to q (10 already queued or done: not added again)');
  const jobs = await runCli('jobs', '--redis', redis.url, '--queue', 'q', '--json');
  expect(JSON.parse(jobs.out)).toMatchObject({ counts: { completed: 10, failed: 1, waiting: 0, active: 0 }, failures: [{ input: path.join(input, 'bad.png'), attempts: 1 }] });
});

test('Redis restarted mid-run: workers and submit --wait reconnect and finish; SIGTERM lets a worker finish its job, exit 0', async () => {
  redis = await startRedis(true);
  const input = await images(8);
  const a = worker('a');
  await a.waitFor(/worker ready/);
  const out = path.join(dir, 'out');
  const s = submit(input, out);
  await a.waitFor(/"msg":"completed"/);
  await redis.stop();
  await new Promise((r) => setTimeout(r, 1000));
  await redis.start();
  const { code } = await exitsWithin(s, 120_000, 'submit --wait after the Redis restart', a);
  expect(s.err()).toMatch(/done: 8 completed, 0 failed/);
  expect(code).toBe(0);
  await expectSameAsPredict(out, await predicted(input), 8);

  // SIGTERM while a job is in hand: the job completes, then the worker exits 0.
  const more = await images(0);
  await fs.writeFile(path.join(more, 'late.png'), await png(400, 300, 7));
  const late = cli(['submit', '--redis', redis.url, '--queue', 'q', '--outdir', out, '--format', 'npy', '--input-size', '518', path.join(more, 'late.png')]);
  started.push(late);
  await exitsWithin(late, 60_000, 'submit of late.png', a);
  await a.waitFor(/"input":"[^"]*late\.png","attempt":1,"msg":"started"/);
  a.child.kill('SIGTERM');
  expect(await exitsWithin(a, 120_000, 'the worker after SIGTERM')).toEqual({ code: 0, signal: null });
  const log = a.err();
  expect(log.indexOf('"msg":"stopping: finishing the jobs in hand"')).toBeGreaterThan(0);
  // started, then the signal, then completed.
  expect(log.search(/"input":"[^"]*late\.png","outputs"[^\n]*"msg":"completed"/)).toBeGreaterThan(log.indexOf('stopping'));
  expect(await listFiles(out)).toContain('late_depth.npy');
});

test('job data is untrusted: paths outside the roots, odd stems and unknown tasks fail without retry', async () => {
  const root = path.join(dir, 'root');
  await fs.mkdir(path.join(root, 'in'), { recursive: true });
  await fs.writeFile(path.join(root, 'in', 'a.png'), await png(20, 20));
  await fs.symlink('/etc', path.join(root, 'in', 'etc'));
  const served = { task: 'depth' as const, model: {} as never };
  const opts = { inputRoot: path.join(root, 'in'), outputRoot: path.join(root, 'out'), served };
  await fs.mkdir(opts.outputRoot);
  const job = (data: unknown) => ({ id: 'x', data, updateProgress: async () => undefined });
  const ok = { task: 'depth', input: path.join(root, 'in', 'a.png'), stem: 'a', options: { outdir: opts.outputRoot, format: ['npy'], inputSize: 14 } };
  const cases: Array<[unknown, RegExp]> = [
    [{ ...ok, input: '/etc/passwd' }, /outside this worker's --input-root/],
    [{ ...ok, input: path.join(root, 'in', 'etc', 'hostname') }, /outside this worker's --input-root/], // through a symlink
    [{ ...ok, options: { ...ok.options, outdir: '/tmp' } }, /outside this worker's --output-root/],
    [{ ...ok, options: { ...ok.options, outdir: path.join(opts.outputRoot, '..', 'x') } }, /outside this worker's --output-root/],
    [{ ...ok, stem: '../../escape' }, /stem .* must be a relative name/],
    [{ ...ok, options: { ...ok.options, format: ['exe'] } }, /options.format/],
    [{ ...ok, options: { ...ok.options, inputSize: 15 } }, /multiple of 14/],
    [{ ...ok, task: 'segment', options: { ...ok.options, format: ['labels'] } }, /a segment job reached a depth worker/],
    [{ ...ok, task: 'rm -rf' }, /task must be/],
    ['a string', /expected \{ task, input, stem, options \}/],
  ];
  for (const [data, re] of cases) {
    const e = await processJob(job(data) as never, opts).then(() => undefined, (err: Error) => err);
    expect(e?.name).toBe('UnrecoverableError');
    expect(e?.message).toMatch(re);
  }
  expect(await fs.readdir(opts.outputRoot)).toEqual([]);
});
