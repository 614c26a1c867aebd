/**
 * test/durations.json (what test/sequencer.js orders by on a machine without jest's cache) names
 * every test file and only those: a file it lacks would be started first whatever its length.
 */
import { readdirSync, statSync } from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..');
const table = require('./durations.json') as { seconds: Record<string, number> };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Sequencer = require('./sequencer.js');

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return testFiles(p);
    return name.endsWith('.test.ts') ? [path.relative(ROOT, p).split(path.sep).join('/')] : [];
  });
}

describe('test order', () => {
  test('durations.json names every test file, and no other', () => {
    const files = testFiles(path.join(ROOT, 'test')).sort();
    const listed = Object.keys(table.seconds).sort();
    expect({ notListed: files.filter((f) => !listed.includes(f)), gone: listed.filter((f) => !files.includes(f)) }).toEqual({ notListed: [], gone: [] });
    for (const s of Object.values(table.seconds)) expect(s).toBeGreaterThan(0);
  });

  test('without a jest cache, the slowest files start first (the full-size cpu parity before anything)', async () => {
    const seq = new Sequencer({ contexts: [], globalConfig: {} });
    seq._getCache = () => ({}); // a machine that never ran the suite
    const tests = Object.keys(table.seconds).reverse().map((f) => ({ path: path.join(ROOT, f), context: { config: {}, hasteFS: { getSize: () => 1 } } }));
    const order = (await seq.sort(tests)).map((t: { path: string }) => path.relative(ROOT, t.path));
    const bySeconds = Object.entries(table.seconds).sort((a, b) => b[1] - a[1]);
    expect(order[0]).toBe('test/parity/parity_cpu_full.test.ts');
    expect(order[0]).toBe(bySeconds[0][0]);
    for (let i = 1; i < order.length; i++) expect(table.seconds[order[i - 1]]).toBeGreaterThanOrEqual(table.seconds[order[i]]);
  });
});
