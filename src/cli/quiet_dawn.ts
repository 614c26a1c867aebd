/**
 * Dawn (WebGPU in Node, the `webgpu` package) prints its own warnings, such as "Warning:
 * maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 90 to 16 ...", with C's
 * fprintf on file descriptor 2 as it starts an adapter. JavaScript cannot redirect a native write
 * to fd 2 in its own process (no dup2 without a native addon), so when a command may start Dawn
 * the launcher (bin/depth-anything.js) runs the CLI in a child whose stderr it reads and passes on
 * without Dawn's lines. `--verbose` (anywhere on the line) keeps them. No tfjs is loaded here:
 * the launcher decides before the CLI starts.
 */
import { spawn } from 'child_process';
import { hardwareGpuMayExist } from '../backends/gpu_probe';
import { FILTERED_ENV, STDERR_TTY_ENV } from './tty';

/**
 * Whether this command line may start Dawn in this process: a `webgpu` backend named anywhere
 * (`--backend webgpu`, `--backend=webgpu`, a list holding it), or no backend named / `auto` on a
 * machine where a GPU can exist (the same look `auto` takes). `--browser` runs in Chromium: no Dawn.
 */
export function dawnMayStart(args: readonly string[]): boolean {
  if (args.includes('--browser') || args.includes('--help') || args.includes('-h')) return false;
  if (args.some((a) => /(^|[=,])webgpu(,|$)/.test(a))) return true;
  const i = args.findIndex((a) => a === '--backend' || a.startsWith('--backend='));
  const named = i < 0 ? 'auto' : args[i].startsWith('--backend=') ? args[i].slice('--backend='.length) : args[i + 1];
  if (named !== 'auto') return false;
  try {
    return hardwareGpuMayExist();
  } catch {
    return false; // a bad DEPTH_ANYTHING_GPU_PROBE: the CLI itself says so
  }
}

/** Dawn's warning lines start so; nothing of ours does. */
const DAWN_PREFIX = 'Warning: ';

/**
 * Removes Dawn's warning lines from a stream of text, passing everything else on as soon as it is
 * known not to be one (progress bars redraw a line with \r and no newline: they are not held).
 */
export class DawnWarningFilter {
  /** The start of a line that may still turn out to be Dawn's. */
  private held = '';
  /** Inside a line already passed on. */
  private passing = false;

  push(chunk: string): string {
    let out = '';
    let rest = chunk;
    while (rest.length > 0) {
      const nl = rest.indexOf('\n');
      if (this.passing) {
        if (nl < 0) return out + rest;
        out += rest.slice(0, nl + 1);
        rest = rest.slice(nl + 1);
        this.passing = false;
        continue;
      }
      const line = this.held + (nl < 0 ? rest : rest.slice(0, nl));
      this.held = '';
      if (nl < 0) {
        if (line.startsWith(DAWN_PREFIX) || DAWN_PREFIX.startsWith(line)) this.held = line;
        else {
          this.passing = true;
          out += line;
        }
        return out;
      }
      if (!line.startsWith(DAWN_PREFIX)) out += `${line}\n`;
      rest = rest.slice(nl + 1);
    }
    return out;
  }

  /** What is held at the end of the stream (a last line without a newline). */
  end(): string {
    const h = this.held;
    this.held = '';
    return h.startsWith(DAWN_PREFIX) ? '' : h;
  }
}

/**
 * Runs `script args` in a child Node with stderr filtered, stdin/stdout shared; forwards SIGINT,
 * SIGTERM and SIGHUP; resolves to the child's exit code (128 + signal number if a signal ended it).
 */
export function runWithDawnFiltered(script: string, args: readonly string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, script, ...args], {
      stdio: ['inherit', 'inherit', 'pipe'],
      env: { ...process.env, [FILTERED_ENV]: '1', ...(process.stderr.isTTY ? { [STDERR_TTY_ENV]: '1' } : {}) },
    });
    const filter = new DawnWarningFilter();
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      const out = filter.push(s);
      if (out) process.stderr.write(out);
    });
    child.stderr!.on('end', () => {
      const out = filter.end();
      if (out) process.stderr.write(out);
    });
    // The child also watches this process (serve: src/node/parent_watch.ts), for a SIGKILL that cannot be forwarded.
    const forwarded: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    const handlers = forwarded.map((sig) => [sig, () => child.kill(sig)] as const);
    for (const [sig, h] of handlers) process.on(sig, h);
    child.on('close', (code, signal) => {
      for (const [sig, h] of handlers) process.off(sig, h);
      const signals: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15, SIGKILL: 9 };
      resolve(code ?? 128 + (signal ? signals[signal] ?? 1 : 1));
    });
  });
}

/**
 * The CLI's entry (bin/depth-anything.js, src/cli/run.ts): takes `--verbose` off the line, then
 * runs the command here, or in a filtered child when it may start Dawn (see the top of this file).
 * `script` is the entry file, run again as the child.
 */
export async function launch(argv: readonly string[], script: string): Promise<number> {
  const args = argv.slice(2);
  const rest = args.filter((a) => a !== '--verbose');
  if (rest.length === args.length && process.env[FILTERED_ENV] !== '1' && dawnMayStart(rest)) return runWithDawnFiltered(script, rest);
  // Loaded only here, so a relaunching parent never loads tfjs.
  const { main } = await import('./main');
  return main([argv[0], argv[1], ...rest]);
}
