/**
 * The explorer's routes on a Fastify app: the page at /ui/ (HTML, its compiled script, the chart
 * options module and ECharts itself, all served from this install: no CDN) and its JSON endpoints.
 *
 *   GET /ui/              the page
 *   GET /v1/codebooks     per slot: codes, users per code, attribute lift, the LM's words and text
 *   GET /v1/users/:id     a user's codes, last behaviour lines, nearest users, top-scored items (404 if unknown)
 *   GET /v1/report        report.json and tune.json as found on disk
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import type { ItemScoring } from './run.js';
import { Explorer } from './run.js';
import { EXPLORER_PAGE } from './html.js';

/** URL under /ui/ -> file and content type. The script paths mirror the compiled tree, so the page's relative import of the chart options resolves. */
function assets(): Map<string, { path: string; type: string }> {
  const here = dirname(fileURLToPath(import.meta.url));
  const echarts = dirname(createRequire(import.meta.url).resolve('echarts'));
  const js = 'text/javascript; charset=utf-8';
  return new Map([
    ['serve/explorer/page.js', { path: join(here, 'page.js'), type: js }],
    ['charts/options.js', { path: join(here, '..', '..', 'charts', 'options.js'), type: js }],
    ['echarts.min.js', { path: join(echarts, 'echarts.min.js'), type: js }],
  ]);
}

/** Adds the page and its endpoints to `app` (before it listens). */
export function registerExplorer(app: FastifyInstance, explorer: Explorer): void {
  const files = assets();
  app.get('/ui', (_request, reply) => reply.redirect('/ui/'));
  app.get('/ui/', (_request, reply) => reply.type('text/html; charset=utf-8').send(EXPLORER_PAGE));
  app.get<{ Params: { '*': string } }>('/ui/*', async (request, reply) => {
    const file = files.get(request.params['*']);
    if (!file) return reply.code(404).send({ error: 'Not Found', message: `no file /ui/${request.params['*']}` });
    return reply.type(file.type).header('cache-control', 'no-cache').send(await readFile(file.path));
  });
  app.get('/v1/codebooks', async () => explorer.codebooks());
  app.get<{ Params: { id: string } }>('/v1/users/:id', async (request, reply) => {
    const view = await explorer.user(request.params.id);
    if (!view) return reply.code(404).send({ error: 'Not Found', message: `no user "${request.params.id}" in the feature bank or the tune run` });
    return view;
  });
  app.get('/v1/report', async () => explorer.report());
}

/** The explorer alone, for runs with no CTR model (`userip explore`). */
export function createExplorerServer(explorer: Explorer): FastifyInstance {
  const app = Fastify({ logger: false });
  registerExplorer(app, explorer);
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ error: 'Not Found', message: `no route ${request.method} ${request.url.split('?')[0]}` });
  });
  return app;
}

/** Scores through the app's own POST /v1/score, in requests of at most `maxItems` candidates. */
export function scoringThrough(app: FastifyInstance, items: readonly string[], maxItems: number): ItemScoring {
  return {
    items,
    async score(user, candidates) {
      const probabilities: number[] = [];
      for (let start = 0; start < candidates.length; start += maxItems) {
        const response = await app.inject({ method: 'POST', url: '/v1/score', payload: { user, items: candidates.slice(start, start + maxItems) } });
        const body = response.json() as { scores?: { probability: number }[]; message?: string };
        if (response.statusCode !== 200 || !body.scores) throw new Error(`scoring user ${user}: ${response.statusCode} ${body.message ?? ''}`);
        probabilities.push(...body.scores.map((s) => s.probability));
      }
      return probabilities;
    },
  };
}
