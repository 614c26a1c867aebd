import { main } from '../../src/cli/main';

/**
 * Runs the CLI in-process as `depth-anything ...args`; returns the exit code and what it printed
 * (stdout writes and console.log in `out`, stderr in `err`).
 */
export async function runCli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const spyErr = jest.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => { err += c.toString(); return true; });
  const spyOut = jest.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => { out += c.toString(); return true; });
  const spyLog = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { out += `${a.join(' ')}\n`; });
  process.exitCode = undefined;
  try {
    const code = await main(['node', 'depth-anything', ...args]);
    return { code, out, err };
  } finally {
    spyErr.mockRestore();
    spyOut.mockRestore();
    spyLog.mockRestore();
    process.exitCode = undefined;
  }
}
