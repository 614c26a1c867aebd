// Writes test/durations.json (seconds per test file, read by test/sequencer.js) from a jest JSON
// report: npx jest --json --outputFile=REPORT.json && node tools/test-durations.mjs REPORT.json
import { readFileSync, writeFileSync } from 'fs';
import path from 'path';

const [report] = process.argv.slice(2);
if (!report) {
  console.error('usage: node tools/test-durations.mjs REPORT.json');
  process.exit(2);
}
const r = JSON.parse(readFileSync(report, 'utf8'));
const root = path.resolve(new URL('..', import.meta.url).pathname);
const seconds = {};
for (const s of r.testResults) {
  const file = path.relative(root, s.name).split(path.sep).join('/');
  seconds[file] = Math.max(1, Math.round((s.endTime - s.startTime) / 1000));
}
const sorted = Object.fromEntries(Object.entries(seconds).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
const out = path.join(root, 'test', 'durations.json');
writeFileSync(out, `${JSON.stringify({ measured: new Date(r.startTime).toISOString().slice(0, 10), seconds: sorted }, null, 2)}\n`);
console.log(`${Object.keys(sorted).length} files -> ${out}`);
