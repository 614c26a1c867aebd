/**
 * `depth-anything serve [--port N] [--model FILE]`: the demo page (web/) and the browser bundles
 * (dist/) on http://127.0.0.1, until Ctrl-C. `--model` also serves a local weights file and opens
 * the page with it loaded.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Command, InvalidArgumentError } from 'commander';
import { serveStatic } from '../node/static_server';

/** The package root (this file is src/cli/serve.ts or dist/cli/serve.js). */
export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');

export function demoMounts(root = PACKAGE_ROOT): Record<string, string> {
  return { '/': path.join(root, 'web'), '/dist/': path.join(root, 'dist') };
}

function port(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || n > 65535) throw new InvalidArgumentError(`--port must be 0..65535; got "${v}"`);
  return n;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve the demo page on http://127.0.0.1 (depth from a photo, in the browser)')
    .option('--port <n>', 'port (0 picks a free one)', port, 5173)
    .option('--model <file>', 'also serve this weights file and open the page with it')
    .action(async (opts: { port: number; model?: string }) => {
      const app = path.join(PACKAGE_ROOT, 'dist', 'web', 'app.js');
      if (!fs.existsSync(app)) throw new Error(`${app} is missing: build the browser bundles first (npm run build)`);
      const mounts = demoMounts();
      let query = '';
      if (opts.model) {
        if (!fs.statSync(opts.model, { throwIfNoEntry: false })?.isFile()) throw new Error(`--model ${opts.model}: file not found`);
        const name = `/models/${encodeURIComponent(path.basename(opts.model))}`;
        mounts[name] = path.resolve(opts.model);
        query = `?model=${encodeURIComponent(name)}`;
      }
      let server;
      try {
        server = await serveStatic(mounts, { port: opts.port });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new Error(code === 'EADDRINUSE' ? `port ${opts.port} is in use; pick another with --port` : (e as Error).message);
      }
      process.stdout.write(`demo: ${server.url}/${query}  (Ctrl-C stops)\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => { void server.close().then(resolve); };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
