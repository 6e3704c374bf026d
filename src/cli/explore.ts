/**
 * `userip explore`: the profile explorer page alone, over a tune run that has no CTR model yet
 * (`userip serve` shows the same page next to the scoring API).
 */
import { join } from 'node:path';
import { Command } from 'commander';
import { z } from 'zod';
import { SqliteFeatureBank } from '../bank/index.js';
import { createExplorerServer, Explorer } from '../serve/explorer/index.js';
import { intFlag, resolveConfig } from './config.js';

export const exploreSchema = z
  .object({
    /** `userip profile tune` output directory. */
    run: z.string(),
    data: z.string().optional(),
    report: z.string().optional(),
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8080),
  })
  .strict();

export function exploreCommand(): Command {
  return new Command('explore')
    .description('the profile explorer web page (codebooks, users, comparison report, tuning) over a tune run, at /ui/')
    .option('--config <file>', 'JSON config; flags override it')
    .requiredOption('--run <dir>', 'profile tune run (userip profile tune --out), with its bank.sqlite')
    .option('--data <dir>', 'prepared data for users\' behaviour lines (default: the one the run was tuned on)')
    .option('--report <dir>', 'directory holding report.json of `userip eval compare` (default: the run\'s parent directory, then the run)')
    .option('--host <host>', 'address to listen on (default 127.0.0.1)')
    .option('--port <n>', 'port (default 8080; 0 picks a free one)', intFlag)
    .action(async (flags) => {
      const config = await resolveConfig(exploreSchema, flags.config, flags);
      const bank = await SqliteFeatureBank.open(join(config.run, 'bank.sqlite'), { readonly: true });
      try {
        const explorer = await Explorer.open({ run: config.run, data: config.data, report: config.report, bank });
        const app = createExplorerServer(explorer);
        const address = await app.listen({ host: config.host, port: config.port });
        console.log(`userip explore: ${address}/ui/ (run ${config.run})`);
        for (const line of explorer.notes) console.log(`  ${line}`);
        for (const signal of ['SIGINT', 'SIGTERM'] as const) {
          process.once(signal, () => {
            app.close().then(() => bank.close()).then(() => process.exit(0), () => process.exit(1));
          });
        }
      } catch (error) {
        await bank.close();
        throw error;
      }
    });
}
