/**
 * `depth-anything bench`: times forward passes on random weights of a real configuration (no
 * checkpoint needed) and breaks one pass into stages. Human-readable table, or `--json`.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { BackendName, initBackend } from '../backends/node';
import { EncoderName, ModelConfig, VARIANTS, VariantName, officialConfig } from '../config/depth';
import * as os from 'os';
import { BenchResult, defaultBenchHost, runBench } from '../verify/bench';
import { GpuAdapterInfo, describeAdapter } from '../backends/adapter';
import { backendOption, positiveInt, readConfigFile, threadsOption } from './common';
import { parseFlags } from './parity';
import { AttentionLayout, attentionLayout, setAttentionLayout, setFusedElementwise, setWasmGemm } from '../backends/choices';

function nonNegativeInt(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim())) throw new InvalidArgumentError(`${flag} must be a non-negative integer; got "${v}"`);
    return n;
  };
}

/** `518` or `518x392` (height x width), each a positive multiple of 14. */
export function parseSize(v: string): [number, number] {
  const m = /^\s*(\d+)\s*(?:[xX]\s*(\d+))?\s*$/.exec(v);
  if (!m) throw new InvalidArgumentError(`--size must be N or HxW (pixels, multiples of 14); got "${v}"`);
  const h = Number(m[1]);
  const w = m[2] === undefined ? h : Number(m[2]);
  for (const n of [h, w]) {
    if (n === 0 || n % 14 !== 0) throw new InvalidArgumentError(`--size sides must be positive multiples of 14; got "${v}" (nearest: ${Math.max(14, Math.round(n / 14) * 14)})`);
  }
  return [h, w];
}

const gf = (flop: number): string => (flop / 1e9).toFixed(1);

/** The human-readable report. */
export function formatBench(r: BenchResult, title: string, backend: string): string {
  const lines: string[] = [];
  lines.push(`${title}, ${r.height}x${r.width}, batch ${r.batch}, ${(r.params / 1e6).toFixed(1)}M parameters, backend ${backend}`);
  lines.push(`${gf(r.flops.total)} GFLOP per pass (encoder ${gf(r.flops.encoder)}, head ${gf(r.flops.head)}${r.flops.zoe ? `, ZoeDepth head ${gf(r.flops.zoe)}` : ''})`);
  lines.push(`warm-up (ms): ${r.warmupMs.map((t) => t.toFixed(0)).join(' ') || '-'}`);
  lines.push(`runs (ms):    ${r.timesMs.map((t) => t.toFixed(0)).join(' ')}`);
  lines.push(`min ${r.minMs.toFixed(1)} ms, median ${r.medianMs.toFixed(1)} ms, max ${r.maxMs.toFixed(1)} ms: ${r.gflops.toFixed(1)} GFLOP/s at the median`);
  // A page has neither process CPU time nor a load average (bench --browser).
  if (r.cpuMs.every((t) => Number.isFinite(t))) lines.push(`cpu time per run (ms, all threads): ${r.cpuMs.map((t) => t.toFixed(0)).join(' ')}; load average ${r.loadAverage.map((l) => l.toFixed(2)).join(' -> ')}`);
  if (r.stages) {
    const total = r.stages.reduce((s, x) => s + (x.name.startsWith('block 0:') ? 0 : x.ms), 0);
    lines.push('');
    lines.push('one pass by stage (each synchronised; block 0 parts are also inside "blocks"):');
    lines.push(`  ${'stage'.padEnd(34)} ${'ms'.padStart(9)} ${'share'.padStart(6)} ${'GFLOP'.padStart(7)} ${'GFLOP/s'.padStart(8)}`);
    for (const s of r.stages) {
      const share = s.name.startsWith('block 0:') ? '' : `${((100 * s.ms) / total).toFixed(1)}%`;
      const rate = s.flop > 0 && s.ms > 0 ? (s.flop / s.ms / 1e6).toFixed(1) : '';
      lines.push(`  ${s.name.padEnd(34)} ${s.ms.toFixed(1).padStart(9)} ${share.padStart(6)} ${(s.flop > 0 ? gf(s.flop) : '').padStart(7)} ${rate.padStart(8)}`);
    }
    lines.push(`  ${'sum of stages'.padEnd(34)} ${total.toFixed(1).padStart(9)}`);
  }
  return lines.join('\n');
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('time forward passes on random weights of a real configuration (no weights file needed)')
    .addOption(new Option('--encoder <name>', 'backbone').choices(['vits', 'vitb', 'vitl', 'vitg']).default('vits'))
    .addOption(new Option('--model-version <v>', 'Depth Anything version (which blocks feed the head)').choices(['v1', 'v2']).default('v2'))
    .option('--config <file|variant>', 'a config.json (fixtures\' schema) or a variant name (v1-metric-indoor, ...) instead of --encoder/--model-version')
    .addOption(new Option('--size <n|HxW>', 'input size in pixels, multiples of 14').argParser(parseSize).default([518, 518], '518'))
    .option('--batch <n>', 'images per pass', positiveInt('--batch'), 1)
    .addOption(backendOption())
    .addOption(threadsOption())
    .option('--runs <n>', 'timed passes', positiveInt('--runs'), 5)
    .option('--warmup <n>', 'untimed passes first', nonNegativeInt('--warmup'), 1)
    .option('--no-stages', 'skip the stage-by-stage pass')
    .option('--json', 'print one JSON object on stdout')
    .addOption(new Option('--attention <layout>', 'attention layout instead of the backend\'s own (for measurements)').choices(['fused', 'perHead']))
    .option('--no-fused', 'tfjs\'s own elementwise ops instead of the backend\'s fused kernels (for measurements)')
    .option('--no-gemm', 'wasm: XNNPACK\'s matrix products instead of the relaxed-SIMD kernel (for measurements)')
    .option('--browser', 'run inside headless Chromium (Debian chromium via puppeteer-core): --backend webgl (default there) or webgpu')
    .addOption(new Option('--flag <NAME=VALUE...>', 'with --browser: tfjs flags set before the backend starts (e.g. WEBGL_PACK=false)'))
    .action(async (opts: {
      encoder: EncoderName; modelVersion: 'v1' | 'v2'; config?: string; size: [number, number]; batch: number; backend: string;
      threads?: number; runs: number; warmup: number; stages: boolean; json?: boolean; browser?: boolean; flag?: string[]; attention?: AttentionLayout; fused: boolean; gemm: boolean;
    }) => {
      const cfg: ModelConfig = opts.config ? (opts.config in VARIANTS ? VARIANTS[opts.config as VariantName] : await readConfigFile(opts.config)) : officialConfig(opts.modelVersion, opts.encoder);
      const title = opts.config ? `config ${opts.config} (${cfg.encoder})` : `Depth Anything ${cfg.version}-${cfg.encoder}`;
      const [height, width] = opts.size;
      let r: BenchResult;
      let info: { name: string; description: string; threads?: number; adapter?: GpuAdapterInfo };
      let place = 'node';
      if (opts.browser) {
        const backend = opts.backend === 'auto' ? 'webgl' : opts.backend;
        if (!['webgl', 'webgpu', 'cpu'].includes(backend)) throw new Error(`--browser runs webgl, webgpu or cpu in Chromium; "${backend}" is a Node backend`);
        const { runPageInChromium } = await import('../verify/browser_run');
        if (!opts.json) process.stderr.write(`${title}: running in headless Chromium...\n`);
        const run = await runPageInChromium<BenchResult & { adapter?: GpuAdapterInfo; backend: string }>('bench_page', {
          files: {}, webgpu: backend === 'webgpu',
          args: { backend, flags: parseFlags(opts.flag), attention: opts.attention, config: cfg, height, width, batch: opts.batch, runs: opts.runs, warmup: opts.warmup, stages: opts.stages },
        });
        r = run.result;
        const adapter = run.result.adapter;
        info = { name: r.backend, description: `${r.backend}${adapter ? ` (${describeAdapter(adapter)})` : ''} in ${run.chromium}, headless`, ...(adapter ? { adapter } : {}) };
        place = 'chromium';
        process.stderr.write(`backend: ${info.description}\n`);
      } else {
        info = await initBackend(opts.backend as BackendName, opts.threads !== undefined ? { threads: opts.threads } : {});
        process.stderr.write(`backend: ${info.description}\n`);
        if (opts.attention) setAttentionLayout(info.name, opts.attention);
        if (!opts.fused) setFusedElementwise(info.name, false);
        if (!opts.gemm) setWasmGemm(info.name, false);
        if (!opts.json) process.stderr.write(`${title}: binding random weights...\n`);
        r = await runBench(cfg, {
          height, width, batch: opts.batch, runs: opts.runs, warmup: opts.warmup, stages: opts.stages,
          host: { ...defaultBenchHost, loadAverage: () => os.loadavg()[0] },
          onRun: opts.json ? undefined : (i, ms) => process.stderr.write(`run ${i + 1}/${opts.runs}: ${ms.toFixed(0)} ms\n`),
        });
      }
      if (opts.json) {
        const out = {
          model: { version: cfg.version, encoder: cfg.encoder, config: opts.config ?? null },
          backend: info.name, backend_description: info.description, threads: info.threads ?? null,
          adapter: info.adapter ?? null, place, attention: opts.attention ?? attentionLayout(info.name),
          height: r.height, width: r.width, batch: r.batch, params: r.params,
          bind_ms: r.bindMs, warmup_ms: r.warmupMs, times_ms: r.timesMs, cpu_ms: r.cpuMs, load_average: r.loadAverage,
          min_ms: r.minMs, median_ms: r.medianMs, max_ms: r.maxMs,
          gflop: r.flops.total / 1e9, gflop_encoder: r.flops.encoder / 1e9, gflop_head: r.flops.head / 1e9, gflop_zoe: r.flops.zoe / 1e9,
          gflops: r.gflops, tensor_bytes: r.tensorBytes, rss_bytes: place === 'node' ? process.memoryUsage().rss : null,
          stages: r.stages?.map((s) => ({ name: s.name, ms: s.ms, gflop: s.flop / 1e9 })) ?? null,
        };
        process.stdout.write(`${JSON.stringify(out)}\n`);
      } else {
        process.stdout.write(`${formatBench(r, title, info.description)}\n`);
      }
    });
}
