/** `depth-anything parity`: compare this port, layer by layer, with a recorded PyTorch reference. */
import { promises as fs } from 'fs';
import * as path from 'path';
import * as os from 'os';
import { Command, Option } from 'commander';
import { LoadedWeights, loadWeightsFile } from '../node/weights_file';
import { configFromMetadata } from '../weights/safetensors_weights';
import { parseSafetensors, serializeSafetensors } from '../io/safetensors';
import { ParityReport, formatParityReport, parityFromStateDict } from '../verify/parity';
import type { TensorComparison } from '../verify/compare';
import { backendOption, finishParity, positiveInt, readConfigFile, startBackend, threadsOption, readReferenceBytes } from './common';
import { ModelConfig } from '../config/depth';
import { mergeReferences } from '../verify/parity';
import { segParityCommand } from './parity_seg';
import { vdaParityCommand } from './parity_vda';
import { isVdaStateDict } from '../weights/detect';
import { da3ParityCommand } from './parity_da3';
import { isDa3WeightsFile } from '../node/da3_weights';
import { isSegWeightsFile } from '../node/seg_weights';
import { GpuAdapterInfo, describeAdapter } from '../backends/adapter';
import { BackendMemory } from '../backends/memory';

interface ParityOptions {
  weights: string;
  config?: string;
  reference: string[];
  backend: string;
  threads?: number;
  dump?: string;
  json?: boolean;
  browser?: boolean;
  flag?: string[];
  inputSize?: number;
  frames?: string;
}

/** What the parity page returns (src/verify/pages/parity_page.ts). */
interface BrowserParityResult {
  ok: boolean;
  comparisons: TensorComparison[];
  notComputed: string[];
  backend: string;
  adapter?: GpuAdapterInfo;
  ms: number;
  memory: { before: BackendMemory; after: BackendMemory };
}

/** `NAME=VALUE` tfjs flags for --browser (numbers and booleans), e.g. WEBGL_PACK=false. */
export function parseFlags(list: string[] = []): Record<string, number | boolean> {
  const flags: Record<string, number | boolean> = {};
  for (const item of list) {
    const m = /^([A-Z0-9_]+)=(true|false|-?\d+(?:\.\d+)?)$/.exec(item);
    if (!m) throw new Error(`--flag must be NAME=true|false|NUMBER (a tfjs flag); got "${item}"`);
    flags[m[1]] = m[2] === 'true' ? true : m[2] === 'false' ? false : Number(m[2]);
  }
  return flags;
}

/**
 * --browser: the same comparison (parityFromStateDict) inside headless Chromium. The page gets the
 * weights as safetensors (the file itself when it is one in official key names, else the state
 * dict Node loaded, written as float32 safetensors to a temporary file), the reference file and the
 * configuration Node resolved.
 */
async function parityInBrowser(opts: ParityOptions, referenceFiles: string[], loaded: LoadedWeights, cfg: ModelConfig | undefined): Promise<{ report: BrowserParityResult; dump?: Buffer }> {
  const { runPageInChromium } = await import('../verify/browser_run');
  const backend = opts.backend === 'auto' ? 'webgl' : opts.backend;
  if (!['webgl', 'webgpu', 'cpu'].includes(backend)) throw new Error(`--browser runs webgl, webgpu or cpu in Chromium; "${backend}" is a Node backend`);
  let weightsFile = opts.weights;
  let tmp: string | undefined;
  if (loaded.format !== 'safetensors') {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'depth-anything-parity-'));
    weightsFile = path.join(tmp, 'weights.safetensors');
    await fs.writeFile(weightsFile, serializeSafetensors([...loaded.stateDict].map(([name, t]) => ({ name, shape: t.shape, data: t.data }))));
  }
  try {
    const references = Object.fromEntries(referenceFiles.map((f, i) => [`reference${i}`, f]));
    const run = await runPageInChromium<BrowserParityResult>('parity_page', {
      files: { weights: weightsFile, ...references },
      webgpu: backend === 'webgpu',
      args: {
        backend, flags: parseFlags(opts.flag), weightsUrl: '/files/weights', weightsName: path.basename(opts.weights),
        references: referenceFiles.map((f, i) => ({ url: `/files/reference${i}`, name: path.basename(f) })), config: cfg, dump: Boolean(opts.dump),
      },
    });
    const r = run.result;
    process.stderr.write(`backend: ${r.backend}${r.adapter ? ` (${describeAdapter(r.adapter)})` : ''} in ${run.chromium}, headless\n`);
    return { report: r, ...(run.bytes ? { dump: run.bytes } : {}) };
  } finally {
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  }
}


export function registerParity(program: Command): void {
  program
    .command('parity')
    .description('run the model on a reference\'s input and compare every recorded tensor (relative L2, max abs)')
    .requiredOption('--weights <file>', 'weights file (official key names)')
    .option('--config <file>', 'model configuration (fixtures\' config.json schema); default: from the weights or the reference metadata')
    .requiredOption('--reference <files...>', 'activations recorded from the official code (safetensors: input, output, module paths); more files add their tensors. An infer.safetensors beside the first (V1 metric pipeline values) is added by default')
    .addOption(backendOption())
    .addOption(threadsOption())
    .option('--from-input', 'Depth Anything 3: run the net on the reference\'s recorded input only (default: end to end from the PNG files its config.json names)')
    .option('--json', 'print the comparison as one JSON object (ok, comparisons, notComputed) instead of the table')
    .option('--dump <file>', 'write every tensor computed, under the reference\'s names, in PyTorch layouts (safetensors)')
    .option('--browser', 'run the comparison inside headless Chromium (Debian chromium via puppeteer-core): --backend webgl (default there) or webgpu; depth, segmentation, Depth Anything 3 and Video Depth Anything weights')
    .option('--frames <dir>', 'Video Depth Anything pipeline and streaming cases: the PNG frames (default: frames/ beside the reference)')
    .option('--input-size <n>', 'Video Depth Anything pipeline and streaming cases: input_size (default: the config.json beside the reference, else 518)', positiveInt('--input-size'))
    .addOption(new Option('--flag <NAME=VALUE...>', 'with --browser: tfjs flags set before the backend starts (e.g. WEBGL_PACK=false)'))
    .action(async (opts: ParityOptions) => {
      if (!opts.browser) await startBackend(opts.backend, opts.threads);
      else if (opts.flag === undefined) opts.flag = [];
      if (await isDa3WeightsFile(opts.weights)) return da3ParityCommand({ ...opts, ...(opts.browser ? { flags: parseFlags(opts.flag) } : {}) });
      if (await isSegWeightsFile(opts.weights)) {
        if (opts.reference.length !== 1) throw new Error(`parity for segmentation weights takes one --reference file; got ${opts.reference.length}`);
        return segParityCommand({ ...opts, reference: opts.reference[0], ...(opts.browser ? { flags: parseFlags(opts.flag) } : {}) });
      }
      const loaded = await loadWeightsFile(opts.weights);
      if (isVdaStateDict(loaded.stateDict)) return vdaParityCommand({ ...opts, ...(opts.browser ? { flags: parseFlags(opts.flag) } : {}) }, loaded);
      const files = [...opts.reference];
      const beside = path.join(path.dirname(files[0]), 'infer.safetensors');
      if (!files.some((f) => path.resolve(f) === path.resolve(beside)) && (await fs.stat(beside).catch(() => undefined))?.isFile()) files.push(beside);
      const refs = [];
      for (const file of files) {
        refs.push(parseSafetensors(await readReferenceBytes(file), file));
      }
      const reference = mergeReferences(refs);
      const cfg = opts.config ? await readConfigFile(opts.config) : loaded.config ?? configFromMetadata(reference);
      if (!cfg) throw new Error(`no model configuration: ${opts.weights} and ${files.join(', ')} carry none; pass --config FILE`);
      let report: Pick<ParityReport, 'ok' | 'comparisons' | 'notComputed'>;
      let dump: Uint8Array | undefined;
      let extra: object = {};
      if (opts.browser) {
        const r = await parityInBrowser(opts, files, loaded, cfg);
        report = r.report;
        dump = r.dump;
        extra = { backend: r.report.backend, adapter: r.report.adapter, ms: r.report.ms, memory: r.report.memory, place: 'chromium' };
      } else {
        const full = await parityFromStateDict(loaded.stateDict, cfg, reference, loaded.source);
        report = full;
        if (opts.dump) dump = serializeSafetensors(full.computed, { source: path.basename(opts.weights), reference: files.map((f) => path.basename(f)).join(',') });
      }
      const { ok, comparisons, notComputed } = report;
      await finishParity(opts, ok, { ok, comparisons, notComputed, ...extra }, formatParityReport({ ...report, computed: [] }), dump);
    });
}
