/**
 * Serving benchmark on the demo's outputs (`npm run demo` first; or `npm run bench -- serve <dir>`
 * with a directory laid out like runs/demo): `userip serve` in its own process, loaded on loopback
 * with autocannon at a fixed concurrency, 100 candidates per request, once with profiles from the
 * feature bank and once with profiles inferred by the LM at request time. Same users, same
 * candidates, same CTR model, same machine; only the source of the profile IDs differs.
 *
 * bytes_per_user_* are per-user payloads, keys excluded: the bank's IDs as stored ("3,1"), the
 * soft tokens (slots x hidden float32), and the behaviour text the LM path keeps and reads per request.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { encodeIds } from '../src/bank/model.js';
import { SqliteFeatureBank } from '../src/bank/index.js';
import { readTunedProfiles, runBehaviourWindows } from '../src/profile/index.js';
import { Rng } from '../src/engine/index.js';
import { loadTokenizer, readLmConfig, resolveLmDir } from '../src/lm/index.js';
import { loadFeatureMap } from '../src/serve/index.js';
import { emit, round } from './util.js';

const CONCURRENCY = 8;
const CANDIDATES = 100;
/** Distinct request bodies (user + candidates) each connection cycles through. */
const BODIES = 64;
const BANK_SECONDS = 15;
/** The LM path answers a few requests per second at most; a longer run gives its p99 enough samples. */
const LM_SECONDS = 30;

export async function serveBench(): Promise<void> {
  const demo = process.argv[3] ?? 'runs/demo';
  const model = join(demo, 'serve-model');
  const run = join(demo, 'profile');
  const bankPath = join(run, 'bank.sqlite');
  const needed = [join(model, 'model.json'), join(model, 'features.json'), bankPath, join(run, 'profiles.safetensors'), join(run, 'config.json')];
  const missing = needed.filter((path) => !existsSync(path));
  if (missing.length > 0) {
    console.error(`serve bench: missing ${missing.join(', ')}.\nRun \`npm run demo\` first (it writes ${demo}/serve-model and ${demo}/profile), or pass a directory laid out like runs/demo: npm run bench -- serve <dir>`);
    process.exit(1);
  }

  const bodies = await requestBodies(model, bankPath);
  const bank = await measure('bank', ['--model', model, '--bank', bankPath], bodies, BANK_SECONDS);
  const lm = await measure('lm', ['--model', model, '--bank', bankPath, '--profile-mode', 'lm'], bodies, LM_SECONDS);
  emit({
    bench: 'serve',
    demo,
    concurrency: CONCURRENCY,
    candidates: CANDIDATES,
    bank_p50_ms: round(bank.p50, 3),
    bank_p99_ms: round(bank.p99, 3),
    bank_rps: round(bank.rps, 1),
    lm_p50_ms: round(lm.p50, 3),
    lm_p99_ms: round(lm.p99, 3),
    lm_rps: round(lm.rps, 1),
    lm_over_bank_p50: round(lm.p50 / bank.p50, 1),
    lm_over_bank_p99: round(lm.p99 / bank.p99, 1),
    bank_over_lm_rps: round(bank.rps / lm.rps, 1),
    bank_requests: bank.requests,
    lm_requests: lm.requests,
    bank_server_peak_rss_mb: bank.peakRssMb,
    lm_server_peak_rss_mb: lm.peakRssMb,
    ...(await bytesPerUser(run, bankPath)),
  });
}

/** Banked users (the first BODIES in bank order), each with CANDIDATES items drawn from the model's catalog. */
async function requestBodies(model: string, bankPath: string): Promise<string[]> {
  const features = await loadFeatureMap(model);
  const bank = await SqliteFeatureBank.open(bankPath, { readonly: true });
  const users: string[] = [];
  try {
    for await (const entry of bank.users()) {
      users.push(entry.user);
      if (users.length === BODIES) break;
    }
  } finally {
    await bank.close();
  }
  const rng = new Rng(0);
  return Array.from({ length: BODIES }, (_, i) =>
    JSON.stringify({ user: users[i % users.length], items: Array.from({ length: CANDIDATES }, () => features.items[rng.int(features.items.length)]) }),
  );
}

interface Measured {
  p50: number;
  p99: number;
  rps: number;
  requests: number;
  peakRssMb?: number;
}

async function measure(mode: string, args: string[], bodies: string[], seconds: number): Promise<Measured> {
  const server = await startServer(args);
  try {
    const requests = bodies.map((body) => ({ method: 'POST' as const, path: '/v1/score', headers: { 'content-type': 'application/json' }, body }));
    // Warm-up: ORT sessions, JIT, sockets.
    await load(server.base, requests, { amount: mode === 'lm' ? 2 * CONCURRENCY : 2000 });
    const result = await load(server.base, requests, { duration: seconds });
    const sorted = Float64Array.from(result.latencies).sort();
    const quantile = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
    emit({ bench: 'serve', mode, requests: sorted.length, seconds: round(result.seconds, 1), p50_ms: round(quantile(0.5), 3), p99_ms: round(quantile(0.99), 3) });
    return { p50: quantile(0.5), p99: quantile(0.99), rps: sorted.length / result.seconds, requests: sorted.length, peakRssMb: await peakRssMb(server.child.pid!) };
  } finally {
    await server.stop();
  }
}

/** autocannon at CONCURRENCY connections; latencies (ms, float) of every 2xx response; fails on any other answer. */
function load(base: string, requests: autocannon.Request[], stop: { amount?: number; duration?: number }): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    // The LM path may take seconds per request under load; autocannon's default 10 s timeout would cut it off.
    const instance = autocannon({ url: base, connections: CONCURRENCY, requests, timeout: 600, ...stop }, (error, result) => {
      if (error) return reject(error);
      if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
        return reject(new Error(`load on ${base}: ${result.non2xx} non-2xx answers, ${result.errors} errors, ${result.timeouts} timeouts`));
      }
      resolve({ latencies, seconds: (performance.now() - started) / 1000 });
    });
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) latencies.push(ms);
    });
  });
}

/** `userip serve` in its own process, so the load generator does not share its event loop. */
async function startServer(args: string[]): Promise<{ base: string; child: ChildProcess; stop(): Promise<void> }> {
  const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
  const child = spawn(process.execPath, [cli, 'serve', ...args, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`userip serve ${args.join(' ')} exited with code ${code} before listening`)));
  });
  const base = /listening on (http:\/\/\S+)/.exec(line)?.[1];
  if (!base) throw new Error(`unexpected first line from userip serve: ${line}`);
  return {
    base,
    child,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The process's peak resident set (VmHWM), where /proc has it. */
async function peakRssMb(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
    return kb === undefined ? undefined : round(Number(kb) / 1024, 1);
  } catch {
    return undefined;
  }
}

async function bytesPerUser(run: string, bankPath: string): Promise<Record<string, number>> {
  const bank = await SqliteFeatureBank.open(bankPath, { readonly: true });
  let idBytes = 0;
  let users = 0;
  try {
    for await (const entry of bank.users()) {
      idBytes += Buffer.byteLength(encodeIds(entry.ids));
      users++;
    }
  } finally {
    await bank.close();
  }
  const tuned = await readTunedProfiles(run);
  const lmDir = resolveLmDir(tuned.config.lm);
  const tokenizer = await loadTokenizer(lmDir);
  const windows = await runBehaviourWindows(tuned.config, tokenizer, (await readLmConfig(join(lmDir, 'config.json'))).maxPositions);
  const texts = new Map([...windows].map(([user, w]) => [user, w.map((ids) => tokenizer.decode(ids)).join('\n')]));
  let textBytes = 0;
  for (const text of texts.values()) textBytes += Buffer.byteLength(text);
  let lmWeightBytes = 0;
  for (const file of await readdir(lmDir)) if (file.endsWith('.safetensors')) lmWeightBytes += (await stat(join(lmDir, file))).size;
  return {
    bytes_per_user_bank: round(idBytes / users, 2),
    bytes_per_user_softtokens: tuned.slots.length * tuned.hidden * 4,
    bytes_per_user_textprofile: round(textBytes / texts.size, 1),
    lm_weight_bytes: lmWeightBytes,
  };
}
