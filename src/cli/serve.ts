/**
 * `depth-anything serve`: with `--weights FILE` or `--model NAME` (as `predict`), the inference
 * server (src/service/http.ts: POST /v1/depth, /healthz, /readyz, /metrics, /openapi.json) with
 * the demo page at `/`; without a model, the demo page alone. `--page-weights FILE` hands a local
 * weights file to the page (this was `--model FILE` before `--model` took the CLI's meaning).
 */
import * as fs from 'fs';
import * as path from 'path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { serveStatic } from '../node/static_server';
import { startedByNpm, untilStopped } from '../node/parent_watch';
import { FILTERED_ENV } from './tty';
import { BackendName } from '../backends/node';
import { serverMaxBatch } from '../backends/choices';
import { DepthAnything } from '../node/depth_anything';
import { Segmenter } from '../node/segmenter';
import { downloadModel, isOfficialModelName } from '../node/hub';
import { depthKind } from '../config/depth';
import { ServedModel, buildServer } from '../service/http';
import { backendOption, positiveInt, threadsOption } from './common';
import { progressReporter } from './download';

/** The package root (this file is src/cli/serve.ts or dist/cli/serve.js). */
export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');

export function demoMounts(root = PACKAGE_ROOT): Record<string, string> {
  return { '/': path.join(root, 'web'), '/dist/': path.join(root, 'dist') };
}

/** Where `--page-weights FILE` is served (`/models/<its name>`) and the query that opens the page with it. */
export function pageWeightsMount(file: string): { urlPath: string; file: string; query: string } {
  if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) throw new Error(`--page-weights ${file}: file not found`);
  const urlPath = `/models/${encodeURIComponent(path.basename(file))}`;
  return { urlPath, file: path.resolve(file), query: `?model=${encodeURIComponent(urlPath)}` };
}

function port(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || n > 65535) throw new InvalidArgumentError(`--port must be 0..65535; got "${v}"`);
  return n;
}

/** `50mb`, `512k`, `1000000`: bytes. */
export function byteSize(flag: string) {
  return (v: string): number => {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(b|k|kb|m|mb|g|gb)?\s*$/i.exec(v);
    if (!m) throw new InvalidArgumentError(`${flag} must be a size such as 50mb, 512kb or 1000000; got "${v}"`);
    const unit = (m[2] ?? 'b').toLowerCase()[0];
    return Math.floor(Number(m[1]) * ({ b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[unit]);
  };
}

function positiveSeconds(v: string): number {
  const n = Number(v);
  if (!(v.trim() !== '' && Number.isFinite(n) && n > 0)) throw new InvalidArgumentError(`--timeout must be a positive number of seconds; got "${v}"`);
  return n;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export interface ServeCliOptions {
  port: number;
  host: string;
  weights?: string;
  model?: string;
  config?: string;
  task?: 'depth' | 'segment';
  pageWeights?: string;
  maxQueue: number;
  maxBatch?: number;
  maxBody: number;
  maxPixels: number;
  timeout: number;
  tokenFile?: string;
  auth: boolean;
  logLevel: string;
  backend: string;
  threads?: number;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('the inference server (--weights FILE or --model NAME: POST /v1/depth, /metrics, ...; docs/serving.md) and the demo page on http://127.0.0.1')
    .option('--port <n>', 'port (0 picks a free one)', port, 5173)
    .option('--host <addr>', 'address to bind; anything but loopback needs --token-file or --no-auth', '127.0.0.1')
    .option('--weights <file>', 'serve the API with this model: official .pth, Hugging Face or converted safetensors')
    .option('--model <name>', 'serve the API with an official model by name (v2-small, ..., seg-ade20k), downloaded once into the cache')
    .option('--config <file|variant>', 'model configuration (default: from the weights)')
    .addOption(new Option('--task <task>', 'what the weights do (default: segment for seg-* models, else depth)').choices(['depth', 'segment']))
    .option('--page-weights <file>', 'also serve this weights file to the demo page and open the page with it (formerly --model FILE)')
    .option('--max-queue <n>', 'requests waiting at most; more get 503 with Retry-After', positiveInt('--max-queue'), 32)
    .option('--max-batch <n>', 'requests of one network input size run as one batch of at most n (default: per backend, where measured faster; 1 on wasm and cpu)', positiveInt('--max-batch'))
    .option('--max-body <size>', 'largest request body (413)', byteSize('--max-body'), 32 * 1024 * 1024)
    .option('--max-pixels <n>', 'largest image, from its header before decoding (413)', positiveInt('--max-pixels'), 40_000_000)
    .option('--timeout <seconds>', 'answer 504 when a request has no result after this long', positiveSeconds, 60)
    .option('--token-file <file>', 'require "Authorization: Bearer TOKEN" (the file\'s first line) on the API and /metrics')
    .option('--no-auth', 'allow a non-loopback --host without a token')
    .option('--log-level <level>', 'pino log level (stderr): fatal, error, warn, info, debug', 'info')
    .addOption(backendOption())
    .addOption(threadsOption())
    .action(async (opts: ServeCliOptions, cmd: Command) => {
      if (opts.model !== undefined && !isOfficialModelName(opts.model) && fs.existsSync(opts.model)) {
        cmd.error(`error: --model takes a model name now, as in predict; for a local file use --weights ${opts.model} (the API) or --page-weights ${opts.model} (the demo page)`);
      }
      if (opts.weights !== undefined && opts.model !== undefined) cmd.error('error: pass either --weights FILE or --model NAME, not both');
      if (!LOOPBACK.has(opts.host) && !opts.tokenFile && opts.auth) cmd.error(`error: --host ${opts.host} exposes the server beyond this machine: pass --token-file FILE (bearer token) or, deliberately, --no-auth`);
      let token: string | undefined;
      if (opts.tokenFile) {
        token = fs.readFileSync(opts.tokenFile, 'utf8').split(/\r?\n/)[0].trim();
        if (token.length < 16) cmd.error(`error: --token-file ${opts.tokenFile}: the token (first line) must have at least 16 characters`);
      }

      const app = path.join(PACKAGE_ROOT, 'dist', 'web', 'app.js');
      const withApi = opts.weights !== undefined || opts.model !== undefined;
      if (!withApi && !fs.existsSync(app)) throw new Error(`${app} is missing: build the browser bundles first (npm run build)`);
      const mounts = fs.existsSync(app) ? demoMounts() : undefined;
      let query = '';
      if (opts.pageWeights) {
        const m = pageWeightsMount(opts.pageWeights);
        if (mounts) mounts[m.urlPath] = m.file;
        query = m.query;
      }

      if (!withApi) {
        let server;
        try {
          server = await serveStatic(mounts!, { port: opts.port, host: opts.host });
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          throw new Error(code === 'EADDRINUSE' ? `port ${opts.port} is in use; pick another with --port` : (e as Error).message);
        }
        process.stdout.write(`demo: ${server.url}/${query}  (Ctrl-C stops)\n`);
        const why = await untilStopped({ watchParents: startedByNpm() || process.env[FILTERED_ENV] === '1' });
        if (!/^SIG/.test(why)) process.stderr.write(`${why}: stopping the server\n`);
        await server.close();
        return;
      }

      const task = opts.task ?? (opts.model?.startsWith('seg-') ? 'segment' : 'depth');
      const weights = opts.weights ?? (await downloadModel(opts.model!, { onProgress: progressReporter(opts.model!) })).path;
      const load = { backend: opts.backend as BackendName, threads: opts.threads, config: opts.config };
      const served: ServedModel = task === 'segment' ? { task, model: await Segmenter.load(weights, load) } : { task, model: await DepthAnything.load(weights, load) };
      const backend = served.model.backend;
      const maxBatch = opts.maxBatch ?? serverMaxBatch(backend.name);
      const service = await buildServer({
        served, maxQueue: opts.maxQueue, maxBatch, maxBody: opts.maxBody, maxPixels: opts.maxPixels, timeoutMs: opts.timeout * 1000,
        token, demoMounts: mounts, logger: { level: opts.logLevel },
      });
      let url: string;
      try {
        url = await service.app.listen({ port: opts.port, host: opts.host });
      } catch (e) {
        served.model.dispose();
        const code = (e as NodeJS.ErrnoException).code;
        throw new Error(code === 'EADDRINUSE' ? `port ${opts.port} is in use; pick another with --port` : (e as Error).message);
      }
      const what = served.task === 'depth'
        ? `${served.model.config.version} ${served.model.config.encoder} ${depthKind(served.model.config)}`
        : `segmentation (${served.model.config.head.numClasses} classes)`;
      process.stderr.write(`model: ${what} from ${weights}; backend: ${backend.description}; max batch ${maxBatch}, max queue ${opts.maxQueue}${token ? '; bearer token required' : ''}\n`);
      process.stdout.write(`api: ${url}/v1/${served.task}${mounts ? `  demo: ${url}/${query}` : ''}  (Ctrl-C stops)\n`);
      const why = await untilStopped({ watchParents: startedByNpm() || process.env[FILTERED_ENV] === '1' });
      process.stderr.write(`${why}: finishing the requests in flight\n`);
      await service.close();
      process.exitCode = 0;
    });
}
