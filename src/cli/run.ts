/** Entry point for running the CLI from source (`npx tsx src/cli/run.ts ...`). */
import { launch } from './quiet_dawn';

launch(process.argv, __filename).then(
  (code) => { process.exitCode = code; },
  (err: Error) => { console.error(`depth-anything: ${err.message}`); process.exitCode = 1; },
);
