/** `depth-anything jobs --redis URL --queue NAME`: counts by state and the failed jobs with their reasons. */
import { Command } from 'commander';
import { JobData, openQueue } from '../service/jobs';
import { positiveInt } from './common';

export function registerJobs(program: Command): void {
  program
    .command('jobs')
    .description('a queue\'s jobs: counts by state, and each failure with its reason')
    .requiredOption('--redis <url>', 'Redis URL')
    .requiredOption('--queue <name>', 'queue name')
    .option('--limit <n>', 'failures listed at most', positiveInt('--limit'), 50)
    .option('--retry-failed', 'put the failed jobs back in the queue (after fixing their cause)')
    .option('--json', 'one JSON object')
    .action(async (opts: { redis: string; queue: string; limit: number; retryFailed?: boolean; json?: boolean }) => {
      const queue = openQueue(opts.redis, opts.queue);
      try {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed');
        const failedJobs = await queue.getFailed(0, opts.limit - 1);
        const failures = failedJobs.map((j) => ({ id: j.id, input: (j.data as JobData)?.input, reason: j.failedReason, attempts: j.attemptsMade }));
        const workers = (await queue.getWorkers()).length;
        if (opts.json) process.stdout.write(`${JSON.stringify({ queue: opts.queue, workers, counts, failures })}\n`);
        else {
          console.log(`${opts.queue}: ${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ')}; ${workers} workers connected`);
          for (const f of failures) console.log(`FAILED ${f.input ?? f.id}: ${f.input && f.reason?.startsWith(`${f.input}: `) ? f.reason.slice(f.input.length + 2) : f.reason}`);
          if (counts.failed > failures.length) console.log(`... and ${counts.failed - failures.length} more failures (--limit)`);
        }
        if (opts.retryFailed && counts.failed) {
          await queue.retryJobs({ state: 'failed' });
          process.stderr.write(`${counts.failed} failed jobs put back in the queue\n`);
        }
      } finally {
        await queue.close();
      }
    });
}
