/**
 * Maintainer script: our wasm backend against onnxruntime-web's wasm backend on the same weights.
 * WEIGHTS is a .pth state dict (tools/random-pth.ts), MODEL the ONNX export of that same file by
 * the official PyTorch code (tools/export-onnx.py). See docs/backends.md, "Against onnxruntime-web".
 *
 *   npx tsx tools/bench-ort.ts WEIGHTS.pth MODEL.onnx [--size 518] [--threads 2] [--runs 7] [--warmup 2]
 *       [--same-process] [--config v2-vits|config.json] [--json]
 *
 * Both engines get one input (seeded, NCHW for onnxruntime, NHWC for us); their depths must agree
 * (relL2 printed: the same graph and weights), then the runs alternate ours, ort, ours, ort ... Each
 * engine runs in its own child process by default, so the two thread pools never share a process
 * (the idle one waits on a message, using no CPU); `--same-process` loads both in this process.
 * A timed run is one forward pass and the read-back of its depth; CPU time is the process's (all
 * threads): about threads x wall time when the threads really run in parallel.
 */
import { ChildProcess, fork } from 'child_process';
import { promises as fs, readFileSync, readdirSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { parseSize } from '../src/cli/bench';
import { readConfigFile } from '../src/cli/common';
import { ModelConfig, VARIANTS, VariantName } from '../src/config/depth';
import { median, rng } from '../src/verify/bench';
import { compareArrays } from '../src/verify/compare';

type Engine = 'ours' | 'ort';
const ENGINES: readonly Engine[] = ['ours', 'ort'];

interface Setup { weights: string; model: string; config: string; height: number; width: number; threads: number }
interface Ready { engine: Engine; version: string; threads: string; loadMs: number; depth: Float32Array }
interface RunResult { ms: number; cpuMs: number; /** Each busy thread's share of the run's CPU time, largest first (Linux; else empty). */ threadShares: number[];
  /** CPU time this process used between its previous run and this one (while the other engine ran, if separate). */
  idleCpuMs: number }

/** One engine: load it, run the shared input once (its depth for the comparison), then timed passes on request. */
interface EngineHandle { ready: Ready; run(): Promise<RunResult>; close(): Promise<void> }

/** The shared input: seeded values in a normalised image's range, [1, 3, H, W] row-major. */
function inputNchw(H: number, W: number): Float32Array {
  const next = rng(2024);
  return Float32Array.from({ length: 3 * H * W }, () => 4 * next() - 2);
}

async function configOf(name: string): Promise<ModelConfig> {
  if (name in VARIANTS) return VARIANTS[name as VariantName];
  if (name.endsWith('.json')) return readConfigFile(name);
  throw new Error(`--config: a variant name (${Object.keys(VARIANTS).join(', ')}) or a config.json; got "${name}"`);
}

const cpuNow = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };

/** CPU ticks of each thread of this process (Linux /proc; empty elsewhere). */
function threadTicks(): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try { tids = readdirSync('/proc/self/task'); } catch { return out; }
  for (const tid of tids) {
    try {
      // Fields after the ")" that ends the thread name: state is the 3rd field, utime the 14th, stime the 15th.
      const f = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
      out.set(tid, Number(f[11]) + Number(f[12]));
    } catch { /* the thread ended */ }
  }
  return out;
}

/** One engine's timer: `lastRunEnd` is the process CPU time when its previous run ended. */
interface Clock { lastRunEnd: number }

async function timed(clock: Clock, pass: () => Promise<unknown>): Promise<RunResult> {
  const k0 = threadTicks();
  const c0 = cpuNow();
  const idleCpuMs = c0 - clock.lastRunEnd;
  const t0 = performance.now();
  await pass();
  const ms = performance.now() - t0;
  const cpuMs = cpuNow() - c0;
  clock.lastRunEnd = cpuNow();
  const deltas = [...threadTicks()].map(([tid, k]) => k - (k0.get(tid) ?? 0)).filter((d) => d > 0).sort((a, b) => b - a);
  const total = deltas.reduce((a, b) => a + b, 0);
  return { ms, cpuMs, idleCpuMs, threadShares: deltas.map((d) => d / total).filter((x) => x >= 0.05) };
}

async function startOurs(s: Setup): Promise<EngineHandle> {
  const tf = await import('@tensorflow/tfjs-core');
  const { initBackend } = await import('../src/backends/node');
  const { weightsFromBytes } = await import('../src/weights/read');
  const { bindWeights, disposeWeights, forward } = await import('../src/depth/depth_anything');
  const t0 = performance.now();
  const info = await initBackend('wasm', { threads: s.threads });
  const cfg = await configOf(s.config);
  const { stateDict } = await weightsFromBytes(await fs.readFile(s.weights), s.weights, { config: cfg });
  const w = bindWeights(stateDict, cfg, s.weights);
  stateDict.clear();
  const nchw = tf.tensor4d(inputNchw(s.height, s.width), [1, 3, s.height, s.width]);
  const x = tf.transpose(nchw, [0, 2, 3, 1]) as typeof nchw;
  nchw.dispose();
  const pass = async (): Promise<Float32Array> => {
    const y = forward(w, cfg, x);
    try { return (await y.data()) as Float32Array; } finally { y.dispose(); }
  };
  const depth = await pass();
  const clock: Clock = { lastRunEnd: NaN };
  const { version } = await import('@tensorflow/tfjs-backend-wasm/package.json');
  return {
    ready: { engine: 'ours', version: `tfjs-backend-wasm ${version}`, threads: info.description, loadMs: performance.now() - t0, depth },
    run: () => timed(clock, pass),
    close: async () => { x.dispose(); disposeWeights(w); },
  };
}

async function startOrt(s: Setup): Promise<EngineHandle> {
  const ort = await import('onnxruntime-web');
  const t0 = performance.now();
  ort.env.wasm.numThreads = s.threads;
  const session = await ort.InferenceSession.create(s.model, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const [inputName] = session.inputNames;
  const [outputName] = session.outputNames;
  const input = new ort.Tensor('float32', inputNchw(s.height, s.width), [1, 3, s.height, s.width]);
  const pass = async (): Promise<Float32Array> => {
    const out = await session.run({ [inputName]: input });
    const y = out[outputName];
    try { return (await y.getData()) as Float32Array; } finally { for (const t of Object.values(out)) t.dispose(); }
  };
  const depth = await pass();
  const clock: Clock = { lastRunEnd: NaN };
  return {
    ready: { engine: 'ort', version: `onnxruntime-web ${ort.env.versions.web ?? '?'}`, threads: `wasm (numThreads ${ort.env.wasm.numThreads})`, loadMs: performance.now() - t0, depth },
    run: () => timed(clock, pass),
    close: () => session.release(),
  };
}

const start = (engine: Engine, s: Setup): Promise<EngineHandle> => (engine === 'ours' ? startOurs(s) : startOrt(s));

// ---------------------------------------------------------------------------------------------
// Child processes: the same script with --child ENGINE; messages over the IPC channel.

type ToChild = { cmd: 'run' } | { cmd: 'exit' };
type FromChild = { ready: Ready } | { run: RunResult } | { error: string };

async function childMain(engine: Engine, s: Setup): Promise<void> {
  const send = (m: FromChild) => new Promise<void>((res) => process.send!(m, () => res()));
  let h: EngineHandle;
  try {
    h = await start(engine, s);
  } catch (e) {
    await send({ error: (e as Error).stack ?? String(e) });
    process.exit(1);
  }
  await send({ ready: h.ready });
  process.on('message', (m: ToChild) => {
    void (async () => {
      if (m.cmd === 'exit') { await h.close(); process.exit(0); }
      try { await send({ run: await h.run() }); } catch (e) { await send({ error: (e as Error).stack ?? String(e) }); }
    })();
  });
}

function startChild(engine: Engine, s: Setup): Promise<EngineHandle> {
  const child: ChildProcess = fork(__filename, ['--child', engine, JSON.stringify(s)], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = () => new Promise<FromChild>((res, rej) => {
    const onExit = (code: number | null) => rej(new Error(`${engine} process exited (${code}) before answering`));
    child.once('exit', onExit);
    child.once('message', (m: FromChild) => { child.off('exit', onExit); res(m); });
  });
  const expect = async <K extends 'ready' | 'run'>(key: K): Promise<Extract<FromChild, Record<K, unknown>>[K]> => {
    const m = await next();
    if ('error' in m) throw new Error(`${engine} process: ${m.error}`);
    if (!(key in m)) throw new Error(`${engine} process: unexpected answer ${Object.keys(m).join()}`);
    return (m as unknown as Record<K, never>)[key];
  };
  return expect('ready').then((ready) => ({
    ready,
    run: () => { child.send({ cmd: 'run' }); return expect('run'); },
    close: () => new Promise<void>((res) => { child.once('exit', () => res()); child.send({ cmd: 'exit' }); }),
  }));
}

// ---------------------------------------------------------------------------------------------

interface Summary { version: string; threads: string; loadMs: number; warmupMs: number[]; timesMs: number[]; cpuMs: number[]; medianMs: number; minMs: number; cpuPerWall: number; threadShares: number[][]; busiestThreadShare: number }

async function main(): Promise<void> {
  const program = new Command('bench-ort')
    .argument('<weights>', '.pth state dict')
    .argument('<model>', 'ONNX export of the same weights (tools/export-onnx.py)')
    .option('--config <variant|file>', 'our configuration of the weights', 'v2-vits')
    .addOption(new Option('--size <n|HxW>', 'input size (the export\'s static size)').argParser(parseSize).default([518, 518], '518'))
    .option('--threads <n>', 'threads for both engines', posInt, 2)
    .option('--runs <n>', 'timed runs per engine, interleaved', posInt, 7)
    .option('--warmup <n>', 'untimed runs per engine after the first', nonNegInt, 2)
    .option('--same-process', 'load both engines in this process instead of one child process each')
    .option('--json', 'one JSON object on stdout');
  program.parse();
  const [weights, model] = program.args;
  const o = program.opts<{ config: string; size: [number, number]; threads: number; runs: number; warmup: number; sameProcess?: boolean; json?: boolean }>();
  const s: Setup = { weights: path.resolve(weights), model: path.resolve(model), config: o.config, height: o.size[0], width: o.size[1], threads: o.threads };
  const log = (line: string) => { if (!o.json) console.log(line); };

  // Sequential starts: each engine loads and runs its first pass alone.
  const handles: Record<Engine, EngineHandle> = {} as Record<Engine, EngineHandle>;
  for (const e of ENGINES) handles[e] = await (o.sameProcess ? start(e, s) : startChild(e, s));
  try {
    const cmp = compareArrays(handles.ours.ready.depth, handles.ort.ready.depth);
    log(`same input, ${s.height}x${s.width}: ours vs onnxruntime-web depth relL2 ${cmp.relL2.toExponential(2)}, max abs ${cmp.maxAbs.toExponential(2)} (max |depth| ${cmp.refMax.toFixed(3)})`);
    if (!(cmp.relL2 <= 1e-4)) throw new Error(`the two engines disagree (relL2 ${cmp.relL2}): not the same graph and weights?`);

    const warm: Record<Engine, number[]> = { ours: [], ort: [] };
    for (let i = 0; i < o.warmup; i++) for (const e of ENGINES) warm[e].push((await handles[e].run()).ms);
    const runs: Record<Engine, RunResult[]> = { ours: [], ort: [] };
    const load0 = os.loadavg();
    for (let i = 0; i < o.runs; i++) {
      for (const e of ENGINES) {
        const r = await handles[e].run();
        runs[e].push(r);
        const shares = r.threadShares.map((x) => `${(100 * x).toFixed(0)}%`).join(' ');
        log(`run ${i + 1} ${e.padEnd(4)} ${r.ms.toFixed(0).padStart(6)} ms wall, ${r.cpuMs.toFixed(0).padStart(6)} ms cpu (${(r.cpuMs / r.ms).toFixed(2)}x)${shares ? `, threads' shares of it ${shares}` : ''}; ${r.idleCpuMs.toFixed(0)} ms cpu since its last run`);
      }
    }
    const load1 = os.loadavg();
    const summary = {} as Record<Engine, Summary>;
    for (const e of ENGINES) {
      const t = runs[e].map((r) => r.ms);
      const c = runs[e].map((r) => r.cpuMs);
      const { version, threads, loadMs } = handles[e].ready;
      summary[e] = { version, threads, loadMs, warmupMs: warm[e], timesMs: t, cpuMs: c, medianMs: median(t), minMs: Math.min(...t), cpuPerWall: median(c) / median(t),
        threadShares: runs[e].map((r) => r.threadShares), busiestThreadShare: median(runs[e].map((r) => r.threadShares[0] ?? NaN)) };
    }
    const ratio = summary.ours.medianMs / summary.ort.medianMs;
    const result = {
      weights: s.weights, model: s.model, height: s.height, width: s.width, threads: s.threads, runs: o.runs, warmup: o.warmup,
      processes: o.sameProcess ? 'same' : 'separate', relL2: cmp.relL2, maxAbs: cmp.maxAbs,
      ours: summary.ours, ort: summary.ort, ratio, ratioMin: summary.ours.minMs / summary.ort.minMs,
      // Each ours/ort pair ran back to back: the median of their ratios follows a load that drifts.
      ratioPaired: median(summary.ours.timesMs.map((t, i) => t / summary.ort.timesMs[i])),
      ratioCpu: median(summary.ours.cpuMs) / median(summary.ort.cpuMs),
      loadAverage: { before: load0, after: load1 }, node: process.version, cpus: os.cpus().length,
    };
    if (o.json) { console.log(JSON.stringify(result, null, 1)); return; }
    for (const e of ENGINES) {
      const x = summary[e];
      log(`${e.padEnd(4)} ${x.version}, ${x.threads}: median ${x.medianMs.toFixed(0)} ms, min ${x.minMs.toFixed(0)} ms, cpu/wall ${x.cpuPerWall.toFixed(2)}, busiest thread ${(100 * x.busiestThreadShare).toFixed(0)}% of the cpu time (load ${x.loadMs.toFixed(0)} ms, warm-up ${x.warmupMs.map((m) => m.toFixed(0)).join(' ') || '-'})`);
    }
    log(`ours / ort: ${ratio.toFixed(3)} at the median, ${result.ratioMin.toFixed(3)} at the min, ${result.ratioPaired.toFixed(3)} as the median of the ${o.runs} back-to-back pairs; CPU time per run ${result.ratioCpu.toFixed(3)} at the median (${o.runs} interleaved runs each, ${o.sameProcess ? 'one process' : 'separate processes'})`);
    log(`load average before ${load0.map((l) => l.toFixed(2)).join(' ')}, after ${load1.map((l) => l.toFixed(2)).join(' ')} (${os.cpus().length} cpus)`);
  } finally {
    for (const e of ENGINES) await handles[e].close();
  }
}

function nonNegInt(v: string): number {
  if (!/^\d+$/.test(v.trim())) throw new InvalidArgumentError(`must be a non-negative integer; got "${v}"`);
  return Number(v);
}

function posInt(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || n < 1) throw new InvalidArgumentError(`must be a positive integer; got "${v}"`);
  return n;
}

if (process.argv[2] === '--child') {
  void childMain(process.argv[3] as Engine, JSON.parse(process.argv[4]) as Setup);
} else {
  main().catch((e: Error) => { console.error(e.message); process.exitCode = 1; });
}
