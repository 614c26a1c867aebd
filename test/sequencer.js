/**
 * Runs the slowest test files first, also on a machine that has never run the suite. Jest orders
 * by the durations it cached on earlier runs, and without them by file size, which put the
 * 12-minute full-size cpu parity file (a few lines long) last on a fresh CI machine: its worker then
 * ran alone for most of the run. test/durations.json holds seconds per file from a measured run
 * (`node tools/test-durations.mjs REPORT.json` writes it from `npx jest --json --outputFile=REPORT.json`);
 * jest's own cache, where there is one, wins.
 */
const path = require('path');
const Sequencer = require('@jest/test-sequencer').default;
const durations = require('./durations.json');

const ROOT = path.resolve(__dirname, '..');

class SlowestFirst extends Sequencer {
  time(test) {
    return super.time(test) ?? durations.seconds[path.relative(ROOT, test.path).split(path.sep).join('/')];
  }
}

module.exports = SlowestFirst;
