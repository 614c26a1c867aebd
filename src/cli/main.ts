/**
 * `depth-anything` command line: argument parsing only; each command lives in its own file and
 * calls the library.
 */
import { Command, CommanderError } from 'commander';
import { registerParity } from './parity';
import { registerPredict } from './predict';
import { registerPreprocess } from './preprocess';
import { registerConvert } from './convert';
import { registerDownload } from './download';
import { registerBench } from './bench';
import { registerEval } from './eval';
import { registerSegment } from './segment';
import { registerServe } from './serve';
import { registerTrain } from './train';
import { registerWorker } from './worker';
import { registerSubmit } from './submit';
import { registerJobs } from './jobs';

export function buildProgram(): Command {
  const program = new Command('depth-anything')
    .description('Depth Anything (V1, V2, metric) on TensorFlow.js')
    .version(require('../../package.json').version)
    .exitOverride()
    .showHelpAfterError()
    // Taken off the line by the launcher (quiet_dawn.ts) before parsing; listed for --help.
    .option('--verbose', 'show the GPU driver\'s own warnings (Dawn\'s, with the webgpu backend), hidden otherwise')
    // The root owns `--version` (the package's); positional options let `convert --version v2`
    // reach the command instead.
    .enablePositionalOptions();
  registerParity(program);
  registerPredict(program);
  registerPreprocess(program);
  registerConvert(program);
  registerDownload(program);
  registerBench(program);
  registerEval(program);
  registerSegment(program);
  registerServe(program);
  registerTrain(program);
  registerWorker(program);
  registerSubmit(program);
  registerJobs(program);
  return program;
}

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    throw e;
  }
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}
