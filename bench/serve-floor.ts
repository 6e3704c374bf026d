/**
 * The serving bench's floor: a bare Fastify server, started by bench/serve.ts in its own process,
 * whose POST /v1/score reads, parses and validates the same bodies under the same JSON schema, body
 * limit and validator options as `userip serve`, then answers a constant JSON response of the size
 * of a real one. What it costs is HTTP and JSON alone, on this machine at this moment.
 *
 *   node dist/bench/serve-floor.js RESPONSE_FILE   prints "listening on http://127.0.0.1:PORT"
 */
import { readFile } from 'node:fs/promises';
import Fastify from 'fastify';
import { AJV_OPTIONS, DEFAULT_BODY_LIMIT, scoreBodySchema } from '../src/serve/index.js';

const responseFile = process.argv[2];
if (!responseFile) {
  console.error('usage: node dist/bench/serve-floor.js RESPONSE_FILE');
  process.exit(2);
}
const response = await readFile(responseFile, 'utf8');
const app = Fastify({ logger: false, bodyLimit: DEFAULT_BODY_LIMIT, ajv: AJV_OPTIONS });
app.post('/v1/score', { schema: { body: scoreBodySchema } }, async (_request, reply) => reply.type('application/json; charset=utf-8').send(response));
const address = await app.listen({ host: '127.0.0.1', port: 0 });
console.log(`serve floor listening on ${address}`);
process.once('SIGTERM', () => {
  app.close().then(() => process.exit(0));
});
