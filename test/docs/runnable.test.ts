/**
 * The docs' runnable blocks: every ```sh block in README.md and docs/*.md whose fence follows an
 * `<!-- runnable -->` line runs with bash from the repository root and must exit 0. One jest test
 * per block, named FILE:LINE (the line of its opening fence); a failure shows the block and all it
 * printed. Fails when there is no runnable block at all (so it cannot pass vacuously) and when a
 * marker is not followed by a sh block (a typo must not silently turn a check off).
 *
 * The blocks run `npx depth-anything`, i.e. bin/depth-anything.js on dist/: `npm ci` builds it (the
 * `prepare` script); after changing src/ run `npm run build` first.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '../..');
const MARKER = '<!-- runnable -->';
const BLOCK_TIMEOUT_MS = 120_000;

export interface RunnableBlock {
  /** Path relative to the repository root. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  script: string;
}

/**
 * Runnable blocks of one Markdown text, and the markers that do not introduce a sh block. Markers
 * inside a fenced block (an example of the syntax) are text, not markers.
 */
export function findRunnableBlocks(file: string, text: string): { blocks: RunnableBlock[]; stray: string[] } {
  const lines = text.split('\n');
  const blocks: RunnableBlock[] = [];
  const stray: string[] = [];
  let fence: { char: string; len: number } | null = null;
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s{0,3}(`{3,}|~{3,})(.*)$/.exec(lines[i]);
    if (fence) {
      const close = /^\s{0,3}(`{3,}|~{3,})\s*$/.exec(lines[i]);
      if (close && close[1][0] === fence.char && close[1].length >= fence.len) fence = null;
      continue;
    }
    if (open) {
      fence = { char: open[1][0], len: open[1].length };
      continue;
    }
    if (lines[i].trim() !== MARKER) continue;
    const start = /^\s{0,3}(`{3,})sh\s*$/.exec(lines[i + 1] ?? '');
    if (!start) {
      stray.push(`${file}:${i + 1}: ${MARKER} is not followed by a \`\`\`sh fence on the next line`);
      continue;
    }
    const body: string[] = [];
    let j = i + 2;
    for (; j < lines.length; j++) {
      const close = /^\s{0,3}(`{3,})\s*$/.exec(lines[j]);
      if (close && close[1].length >= start[1].length) break;
      body.push(lines[j]);
    }
    if (j === lines.length) {
      stray.push(`${file}:${i + 2}: runnable block never closed`);
      break;
    }
    blocks.push({ file, line: i + 2, script: body.join('\n') });
    i = j; // past the closing fence
  }
  return { blocks, stray };
}

function docFiles(): string[] {
  const docs = fs.existsSync(path.join(ROOT, 'docs'))
    ? fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)
    : [];
  return ['README.md', ...docs];
}

/** Runs a script with bash (errexit, pipefail) in the repository root; output interleaved as printed. */
function runBash(script: string, timeoutMs: number): Promise<{ code: number | null; signal: string | null; output: string; timedOut: boolean; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    // Its own process group, so a timeout ends the commands it started too.
    const child = spawn('bash', ['-eo', 'pipefail', '-c', script], { cwd: ROOT, env: process.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ }
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output, timedOut, ms: Date.now() - t0 });
    });
  });
}

const found = docFiles().map((f) => findRunnableBlocks(f, fs.readFileSync(path.join(ROOT, f), 'utf8')));
const blocks = found.flatMap((r) => r.blocks);
const stray = found.flatMap((r) => r.stray);

describe('finding runnable blocks', () => {
  test('README.md and docs/*.md have runnable blocks', () => {
    expect(blocks.length).toBeGreaterThan(0);
  });

  test('every runnable marker introduces a ```sh block', () => {
    expect(stray).toEqual([]);
  });

  test('the CLI the blocks run starts (bin/depth-anything.js on dist/: npm ci or npm run build)', async () => {
    const r = await runBash('node bin/depth-anything.js --version', 60_000);
    if (r.code !== 0) throw new Error(`\`node bin/depth-anything.js --version\` failed; is dist/ built? Run \`npm run build\` (npm ci runs it) before the docs' runnable blocks.\n${r.output}`);
  });

  test('the parser: fences, markers inside fences, stray markers', () => {
    const md = [
      'text', MARKER, '```sh', 'echo one', 'echo two', '```', // 3
      '````md', MARKER, '```sh', 'not run', '```', '````', // inside a fence
      MARKER, '```js', 'x()', '```', // stray: not sh
      MARKER, '', '```sh', 'echo late', '```', // stray: blank line between
      '```sh', 'echo unmarked', '```',
    ].join('\n');
    const r = findRunnableBlocks('x.md', md);
    expect(r.blocks).toEqual([{ file: 'x.md', line: 3, script: 'echo one\necho two' }]);
    expect(r.stray).toEqual([
      'x.md:13: <!-- runnable --> is not followed by a ```sh fence on the next line',
      'x.md:17: <!-- runnable --> is not followed by a ```sh fence on the next line',
    ]);
  });
});

describe('runnable blocks exit 0', () => {
  for (const b of blocks) {
    const first = b.script.split('\n').find((l) => l.trim() !== '') ?? '';
    const name = `${b.file}:${b.line}: ${first.length > 70 ? `${first.slice(0, 67)}...` : first}`;
    test(name, async () => {
      const r = await runBash(b.script, BLOCK_TIMEOUT_MS);
      process.stdout.write(`${b.file}:${b.line}: ${(r.ms / 1000).toFixed(1)} s\n`);
      if (r.code !== 0) {
        const why = r.timedOut ? `timed out after ${BLOCK_TIMEOUT_MS / 1000} s` : r.code === null ? `killed by ${r.signal}` : `exit status ${r.code}`;
        throw new Error(`${b.file}:${b.line}: runnable block failed (${why})\n--- block ---\n${b.script}\n--- output ---\n${r.output || '(no output)'}`);
      }
    }, BLOCK_TIMEOUT_MS + 10_000);
  }
});
