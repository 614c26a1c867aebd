/**
 * Ending a long-running command with whatever started it. `npx depth-anything serve` runs the
 * server a few processes below npm (npm -> sh -> node ...), and npm does not pass a SIGTERM on to
 * them: killing npx by its PID left the server running, adopted by init. So a server started by npm
 * (npm sets `npm_command` in its children's environment) watches the processes above it and stops
 * when one of them is gone. Started any other way (a shell, nohup, a service manager), only signals
 * stop it, so `nohup depth-anything serve &` outlives its terminal as intended.
 */
import * as fs from 'fs';

/** Linux: the parent of `pid` and whether it is a zombie, from /proc; undefined where /proc has none. */
function procStat(pid: number): { ppid: number; zombie: boolean } | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses; the last ')' ends it.
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(rest[1]), zombie: rest[0] === 'Z' || rest[0] === 'X' };
  } catch {
    return undefined;
  }
}

/** The processes above this one, nearest first, up to (not including) pid 1; at least the parent. */
export function ancestors(pid = process.pid, max = 16): number[] {
  const out: number[] = [];
  let p = pid === process.pid ? process.ppid : procStat(pid)?.ppid;
  while (p !== undefined && p > 1 && out.length < max) {
    out.push(p);
    p = procStat(p)?.ppid;
  }
  return out;
}

function alive(pid: number): boolean {
  const st = procStat(pid);
  if (st) return !st.zombie;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Calls `onGone(why)` once when one of `pids` has ended (or this process was re-parented: its own
 * parent is gone). Polls every `everyMs`; the timer does not keep the process alive. Returns a stop function.
 */
export function watchAncestors(pids: number[], onGone: (why: string) => void, everyMs = 1000): () => void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    const gone = process.ppid !== parent ? parent : pids.find((p) => !alive(p));
    if (gone === undefined) return;
    clearInterval(timer);
    onGone(`process ${gone}, which started this one, has ended`);
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Whether npm (npx, npm exec, npm run) started this process. */
export const startedByNpm = (env: NodeJS.ProcessEnv = process.env): boolean => Boolean(env.npm_command || env.npm_lifecycle_event);

/**
 * Resolves with the reason once the process should stop: SIGINT, SIGTERM or SIGHUP, or (when npm
 * started it, or `watchParents` is set) a process above it ending.
 */
export function untilStopped(opts: { watchParents?: boolean } = {}): Promise<string> {
  return new Promise((resolve) => {
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    let stopWatch = (): void => undefined;
    const done = (why: string): void => {
      for (const s of signals) process.off(s, handlers[s]);
      stopWatch();
      resolve(why);
    };
    const handlers = Object.fromEntries(signals.map((s) => [s, () => done(s)])) as Record<NodeJS.Signals, () => void>;
    for (const s of signals) process.once(s, handlers[s]);
    if (opts.watchParents ?? startedByNpm()) stopWatch = watchAncestors(ancestors(), done);
  });
}
