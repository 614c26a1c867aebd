/**
 * Whether the CLI talks to a terminal. The launcher (quiet_dawn.ts) may run the CLI in a child
 * whose stderr is a pipe it filters; it tells the child what its own stderr is.
 */

/** Set in the child: it must not relaunch itself. */
export const FILTERED_ENV = 'DEPTH_ANYTHING_DAWN_FILTERED';
/** Set in the child when the parent's stderr is a terminal (progress bars need to know). */
export const STDERR_TTY_ENV = 'DEPTH_ANYTHING_STDERR_TTY';

/** Whether the CLI's stderr is a terminal, also when the launcher stands between (see above). */
export function stderrIsTTY(): boolean {
  return Boolean(process.stderr.isTTY) || process.env[STDERR_TTY_ENV] === '1';
}
