/**
 * The HTTP API (Fastify):
 *
 *   GET  /v1/users/:id/profile   the user's IDs with slot names and the bank version
 *   POST /v1/score               {user, items[], context?} -> one click probability per item
 *   GET  /healthz                200 when the bank answers with the version served, else 503
 *   GET  /metrics                Prometheus text: request counts, latency and per-stage histograms, profile sources
 *
 * Unknown users get the default profile (`mostFrequentIds`) and `unknown_user: true`. Bodies are
 * checked by JSON schema (no type coercion, no unknown properties) under a size limit; every bad
 * input gets a 4xx with a message saying what is wrong. A bank that stops answering (Redis down),
 * or no longer holds the version the server started on (re-tuned, emptied, replaced), gives 503
 * naming it on every route that reads IDs (`ServedVersion`).
 */
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { FeatureBankError, versionId, type FeatureBank } from '../bank/index.js';
import type { CtrModel } from '../ctr/index.js';
import type { FeatureIndex } from '../features/index.js';
import { idBytesOf, ScoreAnswers, type ScoredProfile } from './answer.js';
import { METRICS_CONTENT_TYPE, ServeMetrics, type ScoreStage } from './metrics.js';
import { andThen, type Eventually } from './eventually.js';
import { BankProfiles, mostFrequentIds, type FoundProfile, type ProfileProvider, type ServedSource } from './profiles.js';
import { ScoreBodyReader, type ScoreAsk } from './body.js';
import { Scorer, ServeSetupError, type ScoreBuffers } from './scorer.js';
import { BankVersionError, ServedVersion } from './version.js';

/** Candidates per scoring request. */
export const MAX_ITEMS = 1000;
/** Characters per user or item id. */
export const MAX_ID_LENGTH = 256;
/** Request body bytes; 1000 ids of 40 characters fit. */
export const DEFAULT_BODY_LIMIT = 64 * 1024;
/** Unknown item ids listed in a 422 answer; the count is always given. */
const UNKNOWN_ITEMS_SHOWN = 20;

export interface ServeOptions {
  model: CtrModel;
  /** The bank version the model was trained with (`loadCtrModel`'s `bankVersion`). */
  modelBankVersion: string;
  features: FeatureIndex;
  /** Holds the IDs (bank mode); in LM mode it still gives the version, slots and default profile. */
  bank: FeatureBank;
  /** Where profiles come from; default: the bank. */
  profiles?: ProfileProvider;
  /** ORT intra-op threads scoring the CTR model where it runs on ORT, i.e. is not a DCN (default 1, which suits 100-row batches best). */
  threads?: number;
  bodyLimit?: number;
  /** Where warnings and errors go (`userip serve`: pino at warn level); default: nowhere. */
  log?: ServeLog;
}

/**
 * The server's own log, not Fastify's: given a logger (or an onResponse hook), Fastify adds a
 * 'finish' listener to every response, and with it V8 pretenured objects of each request (made them
 * in the old generation; --no-allocation-site-pretenuring undid it). Through those, each keep-alive
 * connection's last requests survived every scavenge: at 400 connections 1.7 MB survived and was
 * promoted per scavenge, pauses of 5-7 ms instead of 1-1.5 (--trace-gc-nvp, 2,000 requests/s),
 * until a mark-compact. So Fastify gets no logger, and the request metrics are taken as the answer
 * is sent (`observeResponses`).
 */
export interface ServeLog {
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

const NO_LOG: ServeLog = { warn: () => {}, error: () => {} };

const idSchema = { anyOf: [{ type: 'string', minLength: 1, maxLength: MAX_ID_LENGTH }, { type: 'integer' }] } as const;
const slotsSchema = {
  type: 'array',
  items: { type: 'object', properties: { name: { type: 'string' }, id: { type: 'integer' } }, required: ['name', 'id'] },
} as const;
const profileProperties = {
  user: { type: 'string' },
  bank_version: { type: 'string' },
  mode: { type: 'string' },
  unknown_user: { type: 'boolean' },
  source: { type: 'string' },
  slots: slotsSchema,
} as const;
const errorSchema = { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' } } } as const;

/** The `/v1/score` request body; exported so that a bench's bare-Fastify floor parses exactly what the server parses. */
export const scoreBodySchema = {
  type: 'object',
  properties: {
    user: idSchema,
    items: { type: 'array', minItems: 1, maxItems: MAX_ITEMS, items: idSchema },
    // Accepted for clients that send request context; the CTR models served here have no context fields.
    context: { type: 'object', maxProperties: 64, additionalProperties: { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] } },
  },
  required: ['user', 'items'],
  additionalProperties: false,
} as const;

/** Fastify coerces types by default ("1" -> 1, "a" -> ["a"]); a wrong type here is the client's error to hear about. */
export const AJV_OPTIONS = { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } } as const;

/** Fastify's wording of schema errors, plus the name of an unknown property. */
function schemaErrorMessage(errors: readonly { instancePath: string; message?: string; keyword: string; params: Record<string, unknown> }[], dataVar: string): string {
  return errors
    .map((e) => `${dataVar}${e.instancePath} ${e.message}${e.keyword === 'additionalProperties' ? `: "${String(e.params.additionalProperty)}"` : ''}`)
    .join(', ');
}

/** The profile a request is served with. */
interface ServedProfile {
  ids: number[];
  source: ServedSource;
  unknownUser: boolean;
}

interface ScoreBody {
  user: string | number;
  items: (string | number)[];
  context?: Record<string, string | number | boolean>;
}

/** When Fastify routed a request: set by an onRequest hook (`observeResponses`). */
const STARTED = Symbol('userip.started');
type TimedRequest = IncomingMessage & { [STARTED]: number };

/** Seconds since Fastify routed the request. */
const elapsedSeconds = (request: FastifyRequest) => (performance.now() - (request.raw as TimedRequest)[STARTED]) / 1000;

/** Counts every answer of `app`, timed from routing to sending (onSend, as it goes out). */
function observeResponses(app: FastifyInstance, metrics: ServeMetrics): void {
  app.addHook('onRequest', (request, _reply, done) => {
    (request.raw as TimedRequest)[STARTED] = performance.now();
    done();
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    metrics.observeRequest(request.method, request.routeOptions.url ?? '(unmatched)', reply.statusCode, elapsedSeconds(request));
    done(null, payload);
  });
}

/** Checks that model, feature map and bank belong together, then builds the (not yet listening) server. */
export async function createServer(options: ServeOptions): Promise<FastifyInstance> {
  const { model, features, bank } = options;
  const version = await bank.version();
  if (version === undefined) throw new ServeSetupError('the feature bank has no version: it holds no profiles of a tune run');
  const bankVersion = versionId(version);
  if (bankVersion !== options.modelBankVersion) {
    throw new ServeSetupError(
      `the feature bank has version ${bankVersion} (lm ${version.lm_id}) but the CTR model was trained on bank version ${options.modelBankVersion}; serve the bank the model was trained with, or retrain the model on this bank`,
    );
  }
  const scorer = new Scorer(model, features, version.slots, options.threads);
  await scorer.ready();
  const defaults = await mostFrequentIds(bank, version.slots.map((s) => s.k));
  const profiles = options.profiles ?? new BankProfiles(bank);
  const metrics = new ServeMetrics({ mode: profiles.mode, bank_version: bankVersion });
  const log = options.log ?? NO_LOG;
  const served = new ServedVersion(bank, bankVersion);
  const answers = new ScoreAnswers();

  const app = Fastify({
    // Nor a hook on 'finish' (ServeLog says why).
    logger: false,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // Longer path ids get 414, as long body ids get 400.
    routerOptions: { maxParamLength: MAX_ID_LENGTH },
    // Router-level errors (overlong or badly encoded paths) in the same shape as every other error.
    frameworkErrors: (error: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
      const status = error.statusCode ?? 400;
      reply.code(status).send({ error: STATUS_CODES[status] ?? 'Client Error', message: error.message });
    },
    ajv: AJV_OPTIONS,
    schemaErrorFormatter: (errors, dataVar) => new Error(schemaErrorMessage(errors, dataVar)),
  });

  // JSON bodies reach the scoring route as bytes: it reads the plain ones itself (`ScoreBodyReader`)
  // and hands the rest to Fastify's own JSON parser and its schema (`askOfJson`).
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  const bodies = new ScoreBodyReader(features.items, { maxItems: MAX_ITEMS, maxIdLength: MAX_ID_LENGTH });
  /** The ask of a body the reader left: parsed (when JSON) and checked as Fastify would, with its errors. */
  function askOfJson(request: FastifyRequest, buffers: ScoreBuffers): ScoreAsk {
    let body = request.body;
    if (Buffer.isBuffer(body)) {
      // Fastify's parser answers through a callback, before it returns.
      let parsed: { error: Error | null; value?: unknown } = { error: null };
      jsonParser(request, body.toString('utf8'), (error, value) => (parsed = { error, value }));
      if (parsed.error) throw parsed.error;
      body = parsed.value;
    }
    const validate = request.compileValidationSchema(scoreBodySchema, 'body');
    if (!validate(body)) throw Object.assign(new Error(schemaErrorMessage(validate.errors ?? [], 'body')), { statusCode: 400 });
    const { user, items } = body as ScoreBody;
    const { indices, unknown } = scorer.itemIndices(items, buffers);
    return { user: String(user), indices, ids: idBytesOf(items, buffers.spans), unknown };
  }

  // Work a request started (an LM pass, a model run) may outlive its client; closing waits for it,
  // so whoever closes the runtimes after the server does not pull them from under it.
  const running = new Set<Promise<unknown>>();
  const tracked = <T>(work: Eventually<T>): Eventually<T> => {
    if (!(work instanceof Promise)) return work;
    running.add(work);
    work.then(
      () => running.delete(work),
      () => running.delete(work),
    );
    return work;
  };
  app.addHook('onClose', async () => {
    await Promise.allSettled(running);
  });

  observeResponses(app, metrics);

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof BankVersionError) return reply.code(503).send({ error: 'Service Unavailable', message: error.message });
    if (error instanceof FeatureBankError) {
      log.warn({ reqId: request.id, err: error }, 'feature bank unavailable');
      return reply.code(503).send({ error: 'Service Unavailable', message: `the feature bank is unavailable: ${error.message}` });
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) return reply.code(status).send({ error: STATUS_CODES[status] ?? 'Client Error', message: error.message });
    log.error({ reqId: request.id, err: error }, 'request failed');
    return reply.code(500).send({ error: 'Internal Server Error', message: 'internal error; see the server log' });
  });

  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ error: 'Not Found', message: `no route ${request.method} ${request.url.split('?')[0]}` });
  });

  /**
   * The profile the server uses for `user`, and where it came from. Checked after the lookup, so the
   * IDs read belong to the version the model learned: against the version the bank read with them,
   * or (LM mode) the bank's version read now.
   */
  function profileOf(user: string): Eventually<ServedProfile> {
    return andThen(profiles.lookup(user), ({ found, bank: read }) => {
      if (!read) return served.assertCurrent().then(() => servedProfile(found));
      served.assert(read.version);
      return servedProfile(found);
    });
  }
  function servedProfile(found: FoundProfile | undefined): ServedProfile {
    // Not `{ ...found, unknownUser: false }`: under load V8 pretenured that spread's copies, and with
    // them each scavenge kept about 77 KB alive instead of 3 KB, and paused the server about twice as
    // long (--trace-gc-nvp, 3,000 requests/s).
    const profile = found ? { ids: found.ids, source: found.source, unknownUser: false } : { ids: defaults, source: 'default' as const, unknownUser: true };
    metrics.observeProfile(profile.source);
    return profile;
  }
  const observeStage = (stage: ScoreStage, seconds: number) => metrics.observeStage(stage, seconds);
  function scoreUser(user: string, buffers: ScoreBuffers): Eventually<{ profile: ServedProfile; probabilities: Float32Array }> {
    const started = performance.now();
    return andThen(profileOf(user), (profile) => {
      observeStage('bank_lookup', (performance.now() - started) / 1000);
      return andThen(scorer.score(user, profile.ids, buffers, observeStage), (probabilities) => ({ profile, probabilities }));
    });
  }
  const slotList = (ids: readonly number[]) => version.slots.map((s, j) => ({ name: s.name, id: ids[j] }));
  const profileAnswer = (user: string, profile: ServedProfile): ScoredProfile => ({
    user,
    bank_version: bankVersion,
    mode: profiles.mode,
    unknown_user: profile.unknownUser,
    source: profile.source,
    slots: slotList(profile.ids),
  });

  app.get<{ Params: { id: string } }>(
    '/v1/users/:id/profile',
    {
      schema: {
        response: { 200: { type: 'object', properties: profileProperties }, '4xx': errorSchema, '5xx': errorSchema },
      },
    },
    async (request) => {
      const user = request.params.id;
      return profileAnswer(user, await tracked(profileOf(user)));
    },
  );

  app.post(
    '/v1/score',
    {
      schema: {
        response: {
          200: {
            type: 'object',
            properties: {
              ...profileProperties,
              scores: { type: 'array', items: { type: 'object', properties: { item: { type: 'string' }, probability: { type: 'number' } } } },
            },
          },
          '4xx': { type: 'object', properties: { ...errorSchema.properties, unknown_items: { type: 'array', items: { type: 'string' } }, unknown_item_count: { type: 'integer' } } },
          '5xx': errorSchema,
        },
      },
    },
    (request, reply) => {
      // The answer is written (its bytes copied out of the buffers) before they go back.
      const answered = scorer.withBuffers((buffers) => {
        const plain = Buffer.isBuffer(request.body) ? bodies.read(request.body, buffers) : undefined;
        const { user, ids, unknown } = plain ?? askOfJson(request, buffers);
        // The clock started when Fastify routed the request: this far the body has been read, parsed and checked.
        const parsed = elapsedSeconds(request);
        if (unknown.length > 0) {
          return reply.code(422).send({
            error: 'Unprocessable Entity',
            message: `${unknown.length} of the candidate items are not in the model's catalog: ${unknown.slice(0, UNKNOWN_ITEMS_SHOWN).join(', ')}${unknown.length > UNKNOWN_ITEMS_SHOWN ? ', ...' : ''}`,
            unknown_items: unknown.slice(0, UNKNOWN_ITEMS_SHOWN),
            unknown_item_count: unknown.length,
          });
        }
        return andThen(tracked(scoreUser(user, buffers)), ({ profile, probabilities }) => {
          const answered = performance.now();
          const body = answers.write(profileAnswer(user, profile), ids, probabilities);
          observeStage('serialisation', (performance.now() - answered) / 1000);
          observeStage('parse', parsed);
          return reply.type('application/json; charset=utf-8').send(body);
        });
      });
      // Not an async handler: where nothing waited, the reply has been sent and there is no promise to
      // make. Fastify hands a thrown error, as a rejected promise's, to the error handler.
      return answered instanceof Promise ? answered : undefined;
    },
  );

  app.get('/healthz', async (_request, reply) => {
    const state = await served.state();
    if (state.status !== 'ok') return reply.code(503).send({ ...state, mode: profiles.mode, bank_version: bankVersion });
    return { status: 'ok', mode: profiles.mode, bank_version: bankVersion, default_profile: slotList(defaults) };
  });

  app.get('/metrics', async (_request, reply) => {
    reply.type(METRICS_CONTENT_TYPE);
    return metrics.text();
  });

  return app;
}

