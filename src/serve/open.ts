/**
 * `userip serve` assembled: the model and its feature map, the bank (SQLite, or Redis filled from
 * SQLite), the profile source (the bank, or the tune run's LM at request time), the server and the
 * explorer page. The CLI parses flags into a `ServeConfig` and calls `openServer`.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { RedisFeatureBank, SqliteFeatureBank, versionId, type FeatureBank } from '../bank/index.js';
import { loadCtrModel } from '../ctr/index.js';
import { openOnlineProfiles } from '../profile/index.js';
import { Explorer, registerExplorer, scoringThrough } from './explorer/index.js';
import { loadFeatureMap, type FeatureIndex } from '../features/index.js';
import { mirrorBank } from './mirror.js';
import type { ProfileProvider } from './profiles.js';
import { createServer, DEFAULT_BODY_LIMIT, MAX_ITEMS, type ServeLog } from './server.js';

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

/** Loads the model, the feature map, the bank (and in lm mode the LM) and builds the server; refuses mismatched versions. */
export async function openServer(config: ServeConfig, log?: ServeLog): Promise<OpenedServer> {
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
    let profiles: ProfileProvider | undefined;
    if (config.profileMode === 'lm') {
      const online = await openOnlineProfiles(config.profileRun ?? dirname(config.bank!), { steps: config.lmSteps });
      toClose.push(() => online.close());
      profiles = online.profiles;
    }
    const app = await createServer({ model, modelBankVersion, features, bank, profiles, threads: config.threads, bodyLimit: config.bodyLimit, log });
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
