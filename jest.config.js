/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  // Parity cases run whole models on two backends; the full-size one takes a while on 2 cores.
  testTimeout: 600000,
  maxWorkers: 2,
};
