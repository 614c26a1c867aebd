// Mesa's EGL (webgpu in Node: Dawn on GL ES) reads EGL_PLATFORM from the real environment, which a
// test cannot set (jest gives each test file a copy of process.env); workers inherit this one.
process.env.EGL_PLATFORM ??= 'surfaceless';

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  // Parity cases run whole models on two backends; the full-size one takes a while on 2 cores.
  testTimeout: 600000,
  maxWorkers: 2,
  // One shared headless Chromium for the run (test/global_setup.ts).
  globalSetup: '<rootDir>/test/global_setup.ts',
  globalTeardown: '<rootDir>/test/global_teardown.ts',
  // The slowest files first, also on a fresh machine (test/sequencer.js, test/durations.json).
  testSequencer: '<rootDir>/test/sequencer.js',
};
