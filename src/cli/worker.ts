/** `userip worker`: a process that tunes shards of distributed tune runs (src/queue/worker.ts). */
import { Command } from 'commander';
import { startTuneWorker, TUNE_QUEUE } from '../queue/index.js';
import { intFlag } from './config.js';

export function workerCommand(): Command {
  return new Command('worker')
    .description(`take profile-tuning shard jobs from the ${TUNE_QUEUE} queue in Redis (started by \`userip profile tune --queue\`), until SIGTERM`)
    .requiredOption('--redis <url>', 'the Redis server of the queue, e.g. redis://10.0.0.5:6379')
    .option('--concurrency <n>', 'shard jobs at once in this process, sharing its LM', intFlag, 1)
    .option('--threads <n>', 'ORT threads of this process (default: all cores)', intFlag)
    .option('--lm <dir>', 'the LM to load once, a Hugging Face directory or "house" (default: each run\'s own LM setting); its content id must match the run\'s')
    .option('--lock-ms <n>', 'lock of a running job: a killed worker\'s job goes to another worker about this long after it died', intFlag, 30_000)
    .option('--max-stalled <n>', 'times a job may be taken back from a dead worker before it fails', intFlag, 3)
    .addHelpText('after', '\nSIGTERM (or Ctrl-C) stops taking jobs and finishes the running ones; a second one quits at once\n(the running jobs then go to other workers once their lock expires). See docs/scale-out.md.')
    .action(async (flags: { redis: string; concurrency: number; threads?: number; lm?: string; lockMs: number; maxStalled: number }) => {
      for (const [name, v] of [['--concurrency', flags.concurrency], ['--lock-ms', flags.lockMs], ['--max-stalled', flags.maxStalled]] as const) {
        if (v < 1) throw new Error(`${name} must be at least 1, got ${v}`);
      }
      const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
      const worker = await startTuneWorker({
        ...flags,
        onEvent: (e) => {
          if (e.kind === 'ready') log(`worker ${e.name} waiting for ${TUNE_QUEUE} jobs at ${flags.redis}`);
          else if (e.kind === 'lm') log(`loaded LM ${e.spec} (content id ${e.id.slice(0, 12)})`);
          else if (e.kind === 'start') log(`${e.job}: tuning ${e.users} users`);
          else if (e.kind === 'cached') log(`${e.job}: result already stored, nothing to do`);
          else if (e.kind === 'done') log(`${e.job}: ${e.users} users in ${e.seconds.toFixed(1)} s (${(e.users / e.seconds).toFixed(2)} users/s)`);
          else log(`${e.job} failed: ${e.error}`);
        },
      });
      let stopping = false;
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        process.on(signal, () => {
          if (stopping) {
            log('stopping now; running jobs go to other workers once their lock expires');
            worker.close(true).finally(() => process.exit(1));
            return;
          }
          stopping = true;
          log(`${signal}: no new jobs; finishing the running ones (send it again to quit at once)`);
          worker.close().then(() => {
            log('stopped');
            process.exit(0);
          }, (error) => {
            console.error(`userip worker: ${(error as Error).message}`);
            process.exit(1);
          });
        });
      }
    });
}
