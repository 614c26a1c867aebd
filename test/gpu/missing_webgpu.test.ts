/**
 * Where the optional `webgpu` package (Dawn for Node) is not installed: asking for webgpu is one
 * line naming the package, exit 1; `auto` goes on without it. The package's absence is simulated
 * in a child process (hide_webgpu.cjs makes resolving it fail as npm's absence does).
 */
import { execFile } from 'child_process';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '../..');

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const argv = ['--require', './test/gpu/hide_webgpu.cjs', '--import', 'tsx', 'src/cli/run.ts', ...args];
  return new Promise((resolve) => {
    execFile(process.execPath, argv, { cwd: ROOT }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const BENCH = ['bench', '--encoder', 'vits', '--size', '28', '--runs', '1', '--warmup', '0', '--no-stages'];

test('--backend webgpu without the package: one line naming it, exit 1', async () => {
  const r = await cli([...BENCH, '--backend', 'webgpu']);
  expect(r.code).toBe(1);
  expect(r.stderr.trim()).toBe('depth-anything: backend "webgpu" needs the optional package "webgpu" (Dawn for Node), which is not installed (npm install webgpu), or use --backend wasm');
  expect(r.stdout).toBe('');
});

test('--backend auto without the package runs on wasm', async () => {
  const r = await cli([...BENCH, '--backend', 'auto']);
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/^backend: wasm/m);
  expect(r.stdout).toMatch(/, backend wasm/);
});
