/**
 * The real parts for the service tests: a redis-server of the test's own (free port, a temporary
 * folder for any file it writes, removed at the end), CLI child processes (tsx) whose output is
 * kept, and small images.
 */
import { ChildProcess, spawn } from 'child_process';
import { promises as fs } from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';

export const ROOT = path.resolve(__dirname, '..', '..');
export const TINY = path.resolve(ROOT, '../shared/fixtures/parity/v2-tiny/weights.safetensors');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface Redis {
  url: string;
  port: number;
  dir: string;
  /** Stops it (SIGTERM: with appendonly, the data is on disk first). */
  stop(): Promise<void>;
  /** Starts it again on the same port and folder (the same data when persistent). */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  dispose(): Promise<void>;
}

/** A redis-server on a free port; `persistent` keeps an append-only file in its temporary folder (for restarts). */
export async function startRedis(persistent = false): Promise<Redis> {
  const port = await freePort();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'da-redis-'));
  let child: ChildProcess | undefined;
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no', '--maxmemory-policy', 'noeviction',
    ...(persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'])];
  const start = async (): Promise<void> => {
    const c = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      c.stdout!.on('data', (d) => { out += d; if (out.includes('Ready to accept connections')) resolve(); });
      c.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
    });
  };
  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => { c.once('exit', () => resolve()); c.kill('SIGTERM'); });
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, port, dir, stop, start, dispose: async () => { await stop(); await fs.rm(dir, { recursive: true, force: true }); } };
}

export interface Cli {
  child: ChildProcess;
  out(): string;
  err(): string;
  /** Resolves with the first stdout+stderr match of `re`. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * `depth-anything ARGS` in a child process, from the sources: `node --import tsx`, one process, so
 * signals reach the CLI itself (tsx's own CLI relays them and SIGKILLs a child that does not
 * acknowledge within 30 ms, as one busy in a forward pass).
 */
export function cli(args: string[], env: NodeJS.ProcessEnv = {}): Cli {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/run.ts', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  const waiters: Array<() => void> = [];
  child.stdout!.on('data', (d) => { out += d; waiters.forEach((w) => w()); });
  child.stderr!.on('data', (d) => { err += d; waiters.forEach((w) => w()); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => { resolve({ code, signal }); waiters.forEach((w) => w()); }));
  return {
    child, exited, out: () => out, err: () => err,
    waitFor: (re, timeoutMs = 60_000) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${re} within ${timeoutMs} ms; stdout:\n${out}\nstderr:\n${err}`)), timeoutMs);
      const check = (): void => {
        const m = re.exec(out + err);
        if (m) { clearTimeout(timer); resolve(m); return; }
        if (child.exitCode !== null || child.signalCode !== null) { clearTimeout(timer); reject(new Error(`exited (${child.exitCode ?? child.signalCode}) before ${re}; stdout:\n${out}\nstderr:\n${err}`)); }
      };
      waiters.push(check);
      check();
    }),
  };
}

/** A small PNG of its own content per seed. */
export function png(w: number, h: number, seed = 1): Promise<Buffer> {
  return sharp(Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 31 * seed + (i >> 5) * (seed + 3)) % 256), { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
}

/** Every file under dir, relative, sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(path.relative(dir, path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)));
  return out.sort();
}
