/**
 * `userip serve`: the scoring API over a saved CTR model (with its feature map) and a feature bank,
 * SQLite or Redis. `--profile-mode lm` is the LM-in-the-loop baseline: profiles are inferred at
 * request time from the tune run's LM, codebooks and behaviour text, for latency comparisons.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { RedisFeatureBank, SqliteFeatureBank, versionId, type FeatureBank } from '../bank/index.js';
import { loadCtrModel } from '../ctr/index.js';
import { Runtime } from '../engine/index.js';
import { loadLm } from '../lm/index.js';
import { readTunedProfiles, runBehaviourWindows, templateTokens, trainerOptions } from '../profile/index.js';
import { Explorer, registerExplorer, scoringThrough } from '../serve/explorer/index.js';
import { createServer, DEFAULT_BODY_LIMIT, LmProfiles, loadFeatureMap, MAX_ITEMS, mirrorBank, type FeatureIndex, type ProfileProvider } from '../serve/index.js';
import { intFlag, resolveConfig } from './config.js';

export const PROFILE_MODES = ['bank', 'lm'] as const;

export const serveSchema = z
  .object({
    /** Directory of `saveCtrModel`, holding model.json and features.json. */
    model: z.string(),
    /** SQLite bank file (e.g. runs/demo/profile/bank.sqlite); with `redis`, copied into Redis when Redis lacks it. */
    bank: z.string().optional(),
    /** Serve lookups from Redis at this URL. */
    redis: z.string().optional(),
    redisPrefix: z.string().min(1).default('userip:'),
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8080),
    profileMode: z.enum(PROFILE_MODES).default('bank'),
    /** `userip profile tune` output for `lm` mode and the explorer page; default: the directory of `bank`. */
    profileRun: z.string().optional(),
    /** Explorer: prepared data for the behaviour lines; default: the tune run's. */
    data: z.string().optional(),
    /** Explorer: directory holding report.json; default: the run's parent directory, then the run. */
    report: z.string().optional(),
    /** EM steps per request in `lm` mode; default: the run's epochs (what a cold-start user gets). */
    lmSteps: z.number().int().positive().optional(),
    /** ORT threads scoring the CTR model; one suits 100-row batches best. */
    threads: z.number().int().positive().default(1),
    bodyLimit: z.number().int().positive().default(DEFAULT_BODY_LIMIT),
  })
  .strict()
  .refine((c) => c.bank !== undefined || c.redis !== undefined, 'give --bank, --redis, or both')
  .refine((c) => c.profileMode !== 'lm' || c.profileRun !== undefined || c.bank !== undefined, 'lm mode needs --profile-run (or --bank inside the run)');
export type ServeConfig = z.infer<typeof serveSchema>;

export interface OpenedServer {
  app: FastifyInstance;
  /** What was loaded, for the startup line. */
  info: { mode: string; bankVersion: string; users: number; bank: string; mirrored?: number; explorer: { enabled: boolean; notes: string[] } };
  /** Stops the server and releases the bank and the runtimes. */
  close(): Promise<void>;
}

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
      const opened = await openServer(config, { level: 'warn' });
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

/** Loads the model, the feature map, the bank (and in lm mode the LM) and builds the server; refuses mismatched versions. */
export async function openServer(config: ServeConfig, logger: { level: string } | false = false): Promise<OpenedServer> {
  const toClose: (() => Promise<void>)[] = [];
  // Last opened, first closed; each at most once.
  const closeAll = async () => {
    for (const close of toClose.splice(0).reverse()) await close();
  };
  try {
    // Requests score on an ORT session in this thread (ServingModel), so the model needs no Runtime worker.
    const { model, bankVersion: modelBankVersion } = await loadCtrModel(config.model);
    const features = await loadFeatureMap(config.model);
    const { bank, name, mirrored } = await openBank(config);
    toClose.push(() => bank.close());
    const profiles = config.profileMode === 'lm' ? await lmProfiles(config, toClose) : undefined;
    const app = await createServer({ model, modelBankVersion, features, bank, profiles, threads: config.threads, bodyLimit: config.bodyLimit, logger });
    toClose.push(() => app.close());
    const explorer = await addExplorer(config, app, bank, features);
    const version = (await bank.version())!;
    return {
      app,
      info: { mode: config.profileMode, bankVersion: versionId(version), users: await bank.count(), bank: name, mirrored, explorer },
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** The explorer page over the tune run, scoring through the server's own API; its notes say what it lacks. */
async function addExplorer(config: ServeConfig, app: FastifyInstance, bank: FeatureBank, features: FeatureIndex): Promise<OpenedServer['info']['explorer']> {
  const run = config.profileRun ?? (config.bank === undefined ? undefined : dirname(config.bank));
  if (run === undefined || !existsSync(join(run, 'config.json'))) return { enabled: false, notes: [`no tune run${run ? ` at ${run}` : ''} (give --profile-run DIR)`] };
  const explorer = await Explorer.open({ run, data: config.data, report: config.report, bank, scoring: scoringThrough(app, features.items, MAX_ITEMS) });
  registerExplorer(app, explorer);
  return { enabled: true, notes: explorer.notes };
}

async function openBank(config: ServeConfig): Promise<{ bank: FeatureBank; name: string; mirrored?: number }> {
  if (config.redis === undefined) {
    return { bank: await SqliteFeatureBank.open(config.bank!, { readonly: true }), name: config.bank! };
  }
  const bank = await RedisFeatureBank.open(config.redis, { prefix: config.redisPrefix });
  const name = `redis ${bank.address} (prefix ${config.redisPrefix})`;
  if (config.bank === undefined) return { bank, name };
  try {
    const source = await SqliteFeatureBank.open(config.bank, { readonly: true });
    try {
      return { bank, name, mirrored: await mirrorBank(source, bank) };
    } finally {
      await source.close();
    }
  } catch (error) {
    await bank.close();
    throw error;
  }
}

/** The LM-in-the-loop profiles of the tune run: its LM, template, frozen codebooks and training settings. */
async function lmProfiles(config: ServeConfig, toClose: (() => Promise<void>)[]): Promise<ProfileProvider> {
  const run = config.profileRun ?? dirname(config.bank!);
  const tuned = await readTunedProfiles(run);
  const tune = tuned.config;
  const runtime = new Runtime({ threads: tune.threads });
  toClose.push(() => runtime.close());
  const lm = await loadLm(tune.lm, runtime);
  const behaviour = await runBehaviourWindows(tune, lm.tokenizer, lm.config.maxPositions);
  const trainer = trainerOptions(tune, lm.id, undefined, tuned);
  return new LmProfiles({
    lm,
    template: templateTokens(lm.tokenizer, tuned.slots, tune.behaviourPrefix),
    behaviour,
    trainer: { ...trainer, userSteps: config.lmSteps ?? trainer.userSteps, checkpointEvery: Number.MAX_SAFE_INTEGER, configHash: 'serve' },
  });
}
