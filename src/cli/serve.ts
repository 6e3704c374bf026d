/**
 * `userip serve`: the scoring API over a saved CTR model (with its feature map) and a feature bank,
 * SQLite or Redis. `--profile-mode lm` is the LM-in-the-loop baseline: profiles are inferred at
 * request time from the tune run's LM, codebooks and behaviour text, for latency comparisons.
 */
import { Command } from 'commander';
import { pino } from 'pino';
import { DEFAULT_BODY_LIMIT, openServer, PROFILE_MODES, serveSchema } from '../serve/index.js';
import { intFlag, resolveConfig } from './config.js';

export function serveCommand(): Command {
  return new Command('serve')
    .description('HTTP scoring API: profile IDs from the feature bank (or, for comparison, from the LM at request time) fed to a trained CTR model')
    .option('--config <file>', 'JSON config; flags override it')
    .requiredOption('--model <dir>', 'saved CTR model directory (model.json + features.json)')
    .option('--bank <file>', 'SQLite feature bank, e.g. runs/demo/profile/bank.sqlite')
    .option('--redis <url>', 'serve lookups from Redis (e.g. redis://127.0.0.1:6379); with --bank, the bank is copied in when Redis lacks it')
    .option('--redis-prefix <prefix>', 'key prefix in Redis (default userip:)')
    .option('--host <host>', 'address to listen on (default 127.0.0.1)')
    .option('--port <n>', 'port (default 8080; 0 picks a free one)', intFlag)
    .option('--profile-mode <mode>', `where profiles come from: ${PROFILE_MODES.join(' | ')} (default bank; lm is the LM-in-the-loop baseline)`)
    .option('--profile-run <dir>', 'profile tune run for lm mode and the explorer page at /ui/ (default: the directory of --bank)')
    .option('--data <dir>', 'explorer: prepared data for users\' behaviour lines (default: the tune run\'s)')
    .option('--report <dir>', 'explorer: directory holding report.json (default: the run\'s parent directory, then the run)')
    .option('--lm-steps <n>', 'lm mode: EM steps per request (default: the run\'s epochs)', intFlag)
    .option('--threads <n>', 'ORT threads for the CTR model (default 1)', intFlag)
    .option('--body-limit <bytes>', `largest request body (default ${DEFAULT_BODY_LIMIT})`, intFlag)
    .action(async (flags) => {
      const config = await resolveConfig(serveSchema, flags.config, flags);
      const opened = await openServer(config, pino({ level: 'warn' }));
      const address = await opened.app.listen({ host: config.host, port: config.port });
      const { mode, bankVersion, users, bank, mirrored, explorer } = opened.info;
      console.log(`userip serve listening on ${address} (profiles from ${mode === 'lm' ? 'the LM at request time' : bank}, bank version ${bankVersion}, ${users} users${mirrored ? `, ${mirrored} copied into Redis` : ''})`);
      console.log(explorer.enabled ? `profile explorer: ${address}/ui/` : 'profile explorer: off');
      for (const line of explorer.notes) console.log(`  ${line}`);
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        process.once(signal, () => {
          opened.close().then(() => process.exit(0), () => process.exit(1));
        });
      }
    });
}

