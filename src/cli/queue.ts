/** `userip queue status`, and the coordinator's progress bar for `userip profile tune --queue`. */
import { Command } from 'commander';
import type { Progress } from '../io/index.js';
import { queueStatus, type CoordinatorEvent, type RunStatus } from '../queue/index.js';
import { terminalProgress } from './progress.js';

export function queueCommand(): Command {
  const queue = new Command('queue').description('distributed profile tuning on Redis (BullMQ)');
  queue
    .command('status')
    .description('where a distributed tune run stands: population token, shards done per E-step, the running round\'s jobs and workers, the bank')
    .requiredOption('--redis <url>', 'the Redis server of the queue, e.g. redis://10.0.0.5:6379')
    .requiredOption('--run <id>', 'the run id `userip profile tune --queue` printed')
    .option('--json', 'print JSON instead of text')
    .action(async (flags: { redis: string; run: string; json?: boolean }) => {
      const status = await queueStatus(flags.redis, flags.run);
      console.log(flags.json ? JSON.stringify(status, null, 2) : formatStatus(status));
    });
  return queue;
}

export function formatStatus(s: RunStatus): string {
  const lines = [
    `run ${s.run}: ${s.users} users in ${s.shards} shards, ${s.rounds} E-steps, LM ${s.lm_id.slice(0, 12)}, created ${s.created_at}`,
    `  data ${s.data} -> ${s.out}`,
    `  population token: ${s.population_done ? 'done' : 'not yet'}`,
  ];
  if (!s.finished) lines.push(`  workers connected to the queue now: ${s.workers}`);
  for (const r of s.per_round) lines.push(`  E-step ${r.round}: ${r.shards_done}/${s.shards} shards${r.fitted ? `, M-step done (validation NLL ${r.val_nll?.toFixed(4)})` : ''}`);
  if (s.current_round !== undefined) {
    lines.push(`  jobs of E-step ${s.current_round}:`);
    for (const j of s.jobs) {
      const what = j.shard < 0 ? 'M-step' : `shard ${j.shard}`;
      const extra = [j.worker && `worker ${j.worker}`, j.progress && `${j.progress} user steps`, j.attempts_made && `${j.attempts_made} failed attempt(s)`, j.stalled && `taken back from a dead worker ${j.stalled}x`, j.failed_reason && `last error: ${j.failed_reason}`].filter(Boolean);
      lines.push(`    ${what}: ${j.state}${extra.length ? ` (${extra.join(', ')})` : ''}`);
    }
  }
  lines.push(s.finished ? `  finished: bank ${s.bank} (version ${s.bank_version}), written ${s.bank_writes}x` : '  not finished');
  return lines.join('\n');
}

/** The coordinator's progress: one bar per phase, fed by the queue's progress and completion events. */
export function coordinatorProgress(progress: Progress = terminalProgress()): { onEvent: (e: CoordinatorEvent) => void; stop: () => void } {
  let shown = '';
  const show = (phase: string, value: number, total: number, detail: string) => {
    if (phase !== shown) {
      progress.start(`tune ${phase}`, total, value);
      shown = phase;
    }
    progress.update(value, detail);
  };
  return {
    onEvent: (e) => {
      if (e.kind === 'run') progress.log(`run ${e.run}: ${e.users} users in ${e.shards} shard jobs${e.resumed ? ' (resumed)' : ''}; \`userip queue status --run ${e.run}\` shows where it stands`);
      else if (e.kind === 'workers') {
        if (e.count === 0) progress.log(`no \`userip worker\` is connected to the queue yet: the shard jobs wait until one is (userip worker --redis URL)`);
      } else if (e.kind === 'population') show('population token', e.done, e.total, `steps | loss ${e.loss.toFixed(3)}`);
      else if (e.kind === 'round') show(`E-step ${e.round + 1}/${e.rounds}`, e.steps, e.budget, `user steps (budget) | ${e.shardsDone}/${e.shards} shards`);
      else show(`M-step ${e.round + 1}/${e.rounds}`, 0, 1, e.round + 1 === e.rounds ? 'codebooks, then the files and the bank' : 'codebooks');
    },
    stop: () => progress.stop(),
  };
}
