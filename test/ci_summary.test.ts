/**
 * .ci/run's summary of the jest report (`.ci/run --summarize REPORT [JEST_STATUS]`): one last
 * plain line "N passed, N failed", a non-zero exit on any failure, and as failures also every test
 * that did not run (skipped, todo: named on stderr), every test file that failed to run, fewer
 * tests run than the floor (MIN_EXECUTED), and a non-zero jest exit with a clean report.
 */
import { spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..');
const FLOOR = Number(/^MIN_EXECUTED=(\d+)$/m.exec(readFileSync(path.join(ROOT, '.ci/run'), 'utf8'))![1]);
let dir: string;
beforeAll(() => { dir = mkdtempSync(path.join(os.tmpdir(), 'ci-summary-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Status = 'passed' | 'failed' | 'pending' | 'todo';
/** A jest --json report: `counts` tests of each status in one file, plus test files that crashed. */
function report(counts: Partial<Record<Status, number>>, crashed: string[] = []) {
  const n = (s: Status) => counts[s] ?? 0;
  const assertionResults = (['passed', 'failed', 'pending', 'todo'] as Status[]).flatMap((status) =>
    Array.from({ length: n(status) }, (_, i) => ({ status, fullName: `group ${status} ${i}`, title: `${status} ${i}`, ancestorTitles: ['group'] })));
  return {
    numTotalTests: assertionResults.length, numPassedTests: n('passed'), numFailedTests: n('failed'), numPendingTests: n('pending'), numTodoTests: n('todo'),
    numRuntimeErrorTestSuites: crashed.length,
    testResults: [
      { name: path.join(ROOT, 'test/some.test.ts'), status: n('failed') ? 'failed' : 'passed', assertionResults },
      ...crashed.map((f) => ({ name: path.join(ROOT, f), status: 'failed', assertionResults: [], testExecError: { message: 'boom' } })),
    ],
  };
}

function summarize(r: object | undefined, jestStatus = 0): { code: number | null; out: string; err: string } {
  const file = path.join(dir, 'report.json');
  rmSync(file, { force: true });
  if (r) writeFileSync(file, JSON.stringify(r));
  const p = spawnSync('bash', [path.join(ROOT, '.ci/run'), '--summarize', file, String(jestStatus)], { cwd: ROOT, encoding: 'utf8' });
  return { code: p.status, out: p.stdout, err: p.stderr };
}

describe('.ci/run --summarize', () => {
  test('all run and pass: one line, exit 0', () => {
    expect(summarize(report({ passed: FLOOR + 27 }))).toEqual({ code: 0, out: `${FLOOR + 27} passed, 0 failed\n`, err: '' });
  });

  test('failed tests: counted, exit 1', () => {
    expect(summarize(report({ passed: FLOOR, failed: 2 }))).toMatchObject({ code: 1, out: `${FLOOR} passed, 2 failed\n` });
  });

  test('skipped and todo tests count as failed and are named', () => {
    const r = summarize(report({ passed: FLOOR + 27, pending: 2, todo: 1 }));
    expect(r).toMatchObject({ code: 1, out: `${FLOOR + 27} passed, 3 failed\n` });
    expect(r.err).toContain('3 tests did not run (each counts as failed):\n  pending: test/some.test.ts > group pending 0\n  pending: test/some.test.ts > group pending 1\n  todo: test/some.test.ts > group todo 0\n');
  });

  test('fewer tests run than the floor: one failure, said why', () => {
    const r = summarize(report({ passed: FLOOR - 1 }));
    expect(r).toMatchObject({ code: 1, out: `${FLOOR - 1} passed, 1 failed\n` });
    expect(r.err).toContain(`only ${FLOOR - 1} tests ran, fewer than the floor of ${FLOOR} (MIN_EXECUTED in .ci/run)`);
    // Failed tests ran: they count towards the floor.
    expect(summarize(report({ passed: FLOOR - 1, failed: 1 }))).toMatchObject({ code: 1, out: `${FLOOR - 1} passed, 1 failed\n` });
    expect(summarize(report({ passed: FLOOR - 2, failed: 1 }))).toMatchObject({ code: 1, out: `${FLOOR - 2} passed, 2 failed\n` });
  });

  test('a test file that failed to run: counted and named', () => {
    const r = summarize(report({ passed: FLOOR + 27 }, ['test/fuzz/fuzz.test.ts']));
    expect(r).toMatchObject({ code: 1, out: `${FLOOR + 27} passed, 1 failed\n` });
    expect(r.err).toContain('1 test files failed to run (each counts as failed):\n  test/fuzz/fuzz.test.ts\n');
  });

  test('no report, or jest exiting non-zero with a clean one: one failure', () => {
    expect(summarize(undefined)).toMatchObject({ code: 1, out: '0 passed, 1 failed\n' });
    expect(summarize({ not: 'a report' })).toMatchObject({ code: 1, out: '0 passed, 1 failed\n' });
    const r = summarize(report({ passed: FLOOR + 27 }), 1);
    expect(r).toMatchObject({ code: 1, out: `${FLOOR + 27} passed, 1 failed\n` });
    expect(r.err).toContain('jest exited with status 1 though its report shows no failure');
  });
});
