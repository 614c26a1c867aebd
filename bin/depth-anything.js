#!/usr/bin/env node
'use strict';
require('../dist/cli/main.js').main(process.argv).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`depth-anything: ${err && err.message ? err.message : err}`); process.exitCode = 1; },
);
