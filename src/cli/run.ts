/** Entry point for running the CLI from source (`npx tsx src/cli/run.ts ...`). */
import { main } from './main';

main(process.argv).then(
  (code) => { process.exitCode = code; },
  (err: Error) => { console.error(`depth-anything: ${err.message}`); process.exitCode = 1; },
);
