#!/usr/bin/env node
'use strict';
require('../dist/cli/quiet_dawn.js').launch(process.argv, __filename).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`depth-anything: ${err && err.message ? err.message : err}`); process.exitCode = 1; },
);
