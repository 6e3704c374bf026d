/**
 * Serving benchmark on the demo's outputs (`npm run demo` first; or `npm run bench -- serve <dir>`
 * with a directory laid out like runs/demo). `userip serve` runs in its own process; 100 candidates
 * per request; same users, candidates, CTR model and machine throughout.
 *
 * 1. Open loop at fixed rates (bench/openloop.ts) against the bank path and against a floor: a bare
 *    Fastify server (bench/serve-floor.ts) that parses the same bodies under the same schema and
 *    answers a constant response of the same size, i.e. what HTTP and JSON alone cost here and now.
 *    Both servers are child processes started the same way (with the Node flags docs/serving.md
 *    recommends, on one core, the generator in a worker thread of this process on another:
 *    `pinCores`, `OpenLoopWorker`), loaded by the same generator. Each server's capacity is the
 *    highest rate it holds with p99 under 10 ms (the machine is shared: a failed rate gets a second
 *    try on the server's next turn, and a try in which the generator fell behind, or other jobs
 *    took a core, does not count); the two searches take turns. Then both run at 25% and 50% of the
 *    floor's capacity in short rounds, alternating which goes first, so that they meet the same
 *    machine (a round spoiled as a try would be is run again). Every run reports the CPU of the
 *    server, of the generator and of the rest of the machine (other jobs); the bank server's
 *    per-stage means come from its /metrics over its 50% rounds.
 * 2. Closed loop (autocannon, concurrency 8) on the bank path and on the LM-in-the-loop baseline,
 *    which infers each profile with the LM at request time.
 *
 * bytes_per_user_* are per-user payloads, keys excluded: the bank's IDs as stored ("3,1"), the
 * soft tokens (slots x hidden float32), and the behaviour text the LM path keeps and reads per request.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { encodeIds } from '../src/bank/model.js';
import { SqliteFeatureBank } from '../src/bank/index.js';
import { readRunProfiles, runBehaviourWindows } from '../src/profile/index.js';
import { loadCtrModel } from '../src/ctr/index.js';
import { Rng, Runtime } from '../src/engine/index.js';
import { loadTokenizer, readLmConfig, resolveLmDir } from '../src/lm/index.js';
import { loadFeatureMap } from '../src/features/index.js';
import { SCORE_STAGES } from '../src/serve/index.js';
import { OpenLoopWorker, quantile, type OpenLoopOptions, type OpenLoopResult } from './openloop.js';
import { emit, round } from './util.js';

const CONCURRENCY = 8;
const CANDIDATES = 100;
/** Distinct request bodies (user + candidates) the load cycles through. */
const BODIES = 64;
const BANK_SECONDS = 15;
/** The LM path answers a few requests per second at most; a longer run gives its p99 enough samples. */
const LM_SECONDS = 30;
/** A server holds a rate when it answers every request and its p99 stays under this. */
const P99_LIMIT_MS = 10;
/** Capacity search: seconds per tried rate, the first rate, the growth factor, the bisection steps. */
const STEP_SECONDS = 3;
const FIRST_RATE = 400;
const GROWTH = 1.5;
const BISECTIONS = 3;
/** Tries per rate (capacity search) or per round (fixed rates) that do not count because they measured the machine (`spoiled`). */
const SPOILED_TRIES = 3;
/** Cores other processes may use during a try that counts: more, and they took the generator's or the server's core for part of it. */
const OTHER_CPU_LIMIT = 0.5;
/** Seconds per server at each fixed rate, in alternating rounds. */
const FIXED_SECONDS = 10;
const FIXED_ROUNDS = 5;
/** Batches per forward timing. */
const FORWARD_RUNS = 2000;
/** Fixed rates, as fractions of the floor's capacity; the last one is `rate_rps`. */
const FIXED_FRACTIONS = [0.25, 0.5];
/**
 * Node flags every server here runs with: what docs/serving.md recommends for `userip serve`. A
 * young generation of 16 MB from the start, where V8 would otherwise keep it near 1 MB for a server
 * whose requests leave little alive: about 10 times fewer scavenges, each a pause of every request in
 * flight. An old generation let grow to twice what the last full GC left, where V8 allowed the bank
 * server's 53 MB about 7% more: a 10-19 ms mark-compact every 6-15 s under load, 3 in 185 s with it.
 * The floor gets them too, so that both run on the same runtime.
 */
const SERVER_NODE_FLAGS = ['--min-semi-space-size=16', '--heap-growing-percent=100'];

/**
 * Where the bench runs: the load generator (this process, every thread) on one core and each server
 * on another, where this process may use two cores and `taskset` (util-linux) is present. Left to
 * the kernel, a server and the generator that wakes it were often placed on the same core, each then
 * queueing behind the other: in 8-s runs at 600/s the server's main thread waited 500-680 ms for a
 * core unpinned, 45-255 ms pinned (/proc/PID/task/PID/schedstat), for the floor as for the bank. A
 * server on one core is also what docs/serving.md's per-core figures are of.
 */
interface Cores {
  generator: number;
  server: number;
}

async function pinCores(): Promise<Cores | undefined> {
  const run = promisify(execFile);
  try {
    const { stdout } = await run('taskset', ['-c', '-p', String(process.pid)]);
    const allowed = cpuList(stdout.slice(stdout.lastIndexOf(':') + 1));
    if (allowed.length < 2) return undefined;
    const cores = { generator: allowed[0], server: allowed[1] };
    await run('taskset', ['-a', '-c', '-p', String(cores.generator), String(process.pid)]);
    return cores;
  } catch {
    return undefined;
  }
}

/** The cores of a list such as "0-3,6". */
function cpuList(text: string): number[] {
  return text
    .trim()
    .split(',')
    .flatMap((part) => {
      const [from, to = from] = part.split('-').map(Number);
      return Array.from({ length: to - from + 1 }, (_, i) => from + i);
    });
}

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

  const loadStart = loadavg()[0];
  const machineCores = availableParallelism();
  const cores = await pinCores();
  emit({ bench: 'serve', phase: 'setup', server_node_flags: SERVER_NODE_FLAGS.join(' '), generator_core: cores?.generator ?? null, server_core: cores?.server ?? null });
  const bodies = await requestBodies(model, bankPath);
  await compareForwards(model, bodies[0]);
  const bank = await startServer('main.js', ['serve', '--model', model, '--bank', bankPath], cores);
  const scratch = await mkdtemp(join(tmpdir(), 'userip-serve-bench-'));
  let floor: Started | undefined;
  let fixed: Awaited<ReturnType<typeof fixedRates>>;
  let capacity: { floor: number; bank: number };
  let closed: Measured;
  const generator = new OpenLoopWorker();
  try {
    await warmUp(bank.base, bodies, 2000);
    const responseFile = join(scratch, 'response.json');
    await writeFile(responseFile, await typicalResponse(bank.base, bodies));
    floor = await startServer('serve-floor.js', [responseFile], cores);
    await warmUp(floor.base, bodies, 2000);
    // The generator's own code warms up too, before anything it measures counts.
    for (const server of [bank, floor]) await generator.run(openLoopAt(server, bodies, FIRST_RATE, STEP_SECONDS));
    capacity = await findCapacities(generator, { floor, bank }, bodies);
    fixed = await fixedRates(generator, floor, bank, bodies, capacity.floor);
    closed = await closedLoop('bank', bank, bodies, BANK_SECONDS);
  } finally {
    await generator.close();
    await floor?.stop();
    await bank.stop();
    await rm(scratch, { recursive: true, force: true });
  }
  const lmServer = await startServer('main.js', ['serve', '--model', model, '--bank', bankPath, '--profile-mode', 'lm'], cores);
  let lm: Measured;
  try {
    await warmUp(lmServer.base, bodies, 2 * CONCURRENCY);
    lm = await closedLoop('lm', lmServer, bodies, LM_SECONDS);
  } finally {
    await lmServer.stop();
  }
  emit({
    bench: 'serve',
    demo,
    concurrency: CONCURRENCY,
    candidates: CANDIDATES,
    bank_p50_ms: round(closed.p50, 3),
    bank_p99_ms: round(closed.p99, 3),
    bank_rps: round(closed.rps, 1),
    lm_p50_ms: round(lm.p50, 3),
    lm_p99_ms: round(lm.p99, 3),
    lm_rps: round(lm.rps, 1),
    lm_over_bank_p50: round(lm.p50 / closed.p50, 1),
    lm_over_bank_p99: round(lm.p99 / closed.p99, 1),
    bank_over_lm_rps: round(closed.rps / lm.rps, 1),
    bank_requests: closed.requests,
    lm_requests: lm.requests,
    bank_server_peak_rss_mb: closed.peakRssMb,
    lm_server_peak_rss_mb: lm.peakRssMb,
    ...(await bytesPerUser(run, bankPath)),
    floor_capacity_rps: capacity.floor,
    bank_capacity_rps: capacity.bank,
    rate_rps: fixed.rate,
    floor_p99_ms: round(quantile(fixed.floor.latencies, 0.99), 3),
    bank_fixed_p99_ms: round(quantile(fixed.bank.latencies, 0.99), 3),
    bank_over_floor_p99: round(quantile(fixed.bank.latencies, 0.99) / quantile(fixed.floor.latencies, 0.99), 2),
    floor_round_p99_ms: fixed.floor.roundP99s,
    bank_round_p99_ms: fixed.bank.roundP99s,
    generator_lag_p99_ms: round(Math.max(fixed.floor.worstSendLagMs, fixed.bank.worstSendLagMs), 2),
    spoiled_rounds: fixed.spoiled,
    bank_over_floor_capacity: round(capacity.bank / capacity.floor, 2),
    stage_ms: fixed.stages,
    floor_cpu_ms_per_request: round(fixed.floor.cpuMsPerRequest, 3),
    bank_cpu_ms_per_request: round(fixed.bank.cpuMsPerRequest, 3),
    loader_cpu_ms_per_request: round((fixed.floor.loaderMsPerRequest + fixed.bank.loaderMsPerRequest) / 2, 3),
    other_cpu: round((fixed.floor.otherCpu + fixed.bank.otherCpu) / 2, 2),
    cores: machineCores,
    pinned: cores !== undefined,
    load_average: [round(loadStart, 2), round(loadavg()[0], 2)],
  });
}

/**
 * The served model on one request's rows, per batch (wall and CPU of all threads, means over many
 * runs), each including the encoding of the rows: the scoring graph through the Runtime's ORT worker
 * (local tables and every weight sent per call; what the server did first), the frozen serving graph
 * on an ORT session in this thread (what it did next, and still does for models other than DCN), the
 * frozen graph evaluated op by op in plain TypeScript, and what the server runs now
 * (`ServingModel.score`: for a DCN, the factored forward). One JSON line.
 */
async function compareForwards(modelDir: string, body: string): Promise<void> {
  const runtime = new Runtime({ threads: 1 });
  try {
    const { model } = await loadCtrModel(modelDir, { runtime });
    const features = await loadFeatureMap(modelDir);
    const { user, items } = JSON.parse(body) as { user: string; items: string[] };
    const itemIndex = Int32Array.from(items, (item) => features.itemIndex.get(item)!);
    const sparse: Record<string, Int32Array> = {
      [features.fields.user]: new Int32Array(items.length).fill(features.userIndex.get(user) ?? -1),
      [features.fields.item]: itemIndex,
      [features.fields.attribute]: Int32Array.from(itemIndex, (i) => features.item_attribute[i]),
    };
    // Profile ID 0 in every slot: any valid ID costs the same.
    for (const slot of features.slots) sparse[slot.field] = new Int32Array(items.length);
    const serving = model.serving();
    const per = async (run: () => Promise<unknown> | unknown) => {
      for (let i = 0; i < FORWARD_RUNS / 4; i++) await run();
      const cpu = process.cpuUsage();
      const started = performance.now();
      for (let i = 0; i < FORWARD_RUNS; i++) await run();
      const used = process.cpuUsage(cpu);
      return { wall: round(((performance.now() - started) * 1000) / FORWARD_RUNS, 1), cpu: round((used.user + used.system) / FORWARD_RUNS, 1) };
    };
    const scoringGraph = await per(() => model.predictLogits({ sparse }));
    const inline = await per(() => serving.logits(serving.feeds({ sparse })));
    const inProcess = await per(() => serving.logitsInProcess(serving.feeds({ sparse })));
    const served = await per(() => serving.score(model.encode({ sparse })));
    emit({
      bench: 'serve',
      phase: `model forward, ${items.length} rows`,
      ort_worker_us: scoringGraph.wall,
      ort_worker_cpu_us: scoringGraph.cpu,
      ort_inline_frozen_us: inline.wall,
      ort_inline_frozen_cpu_us: inline.cpu,
      ts_frozen_us: inProcess.wall,
      ts_frozen_cpu_us: inProcess.cpu,
      served_forward: serving.forward,
      served_us: served.wall,
      served_cpu_us: served.cpu,
    });
  } finally {
    await runtime.close();
  }
}

/** The server's answer to a body, of median size among the bodies': the floor answers it to every request. */
async function typicalResponse(base: string, bodies: string[]): Promise<string> {
  const answers: string[] = [];
  for (const body of bodies) {
    const res = await fetch(`${base}/v1/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    if (!res.ok) throw new Error(`${base}/v1/score answered ${res.status}: ${await res.text()}`);
    answers.push(await res.text());
  }
  return answers.sort((a, b) => a.length - b.length)[answers.length >> 1];
}

/** An open-loop run of the bodies against `server`, as complete HTTP/1.1 requests. */
function openLoopAt(server: Started, bodies: string[], rate: number, seconds: number): OpenLoopOptions {
  const url = new URL(server.base);
  const requests = bodies.map((body) => Buffer.from(`POST /v1/score HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`));
  return { host: url.hostname, port: Number(url.port), requests, rate, seconds };
}

/**
 * An open-loop run and the CPU (seconds) over it of the server process, of the load generator (this
 * process), and of the rest of the machine (every other process: other jobs on a shared machine).
 */
type AtRate = OpenLoopResult & { serverCpuSeconds: number; loaderCpuSeconds: number; otherCpuSeconds: number };

/** One open-loop run at `rate`, with the CPU of the server, the generator and the rest of the machine over it (in cores); one JSON line. */
async function atRate(generator: OpenLoopWorker, phase: string, name: string, server: Started, bodies: string[], rate: number, seconds: number): Promise<AtRate> {
  const cpuBefore = await processCpuSeconds(server.child.pid!);
  const machineBefore = await machineCpuSeconds();
  const result = await generator.run(openLoopAt(server, bodies, rate, seconds));
  const machineSeconds = (await machineCpuSeconds()) - machineBefore;
  const serverCpuSeconds = (await processCpuSeconds(server.child.pid!)) - cpuBefore;
  const serverCpu = serverCpuSeconds / result.seconds;
  const loaderCpuSeconds = result.loaderCpu * result.seconds;
  const otherCpuSeconds = Math.max(0, machineSeconds - serverCpuSeconds - loaderCpuSeconds);
  emit({
    bench: 'serve',
    phase,
    server: name,
    rate_rps: rate,
    answered: result.answered,
    failures: result.failures,
    p50_ms: round(quantile(result.latencies, 0.5), 3),
    p99_ms: round(quantile(result.latencies, 0.99), 3),
    p999_ms: round(quantile(result.latencies, 0.999), 3),
    server_cpu: round(serverCpu, 2),
    loader_cpu: round(result.loaderCpu, 2),
    other_cpu: round(otherCpuSeconds / result.seconds, 2),
    send_lag_p99_ms: round(result.sendLagP99Ms, 2),
    connections: result.connections,
  });
  return { ...result, serverCpuSeconds, loaderCpuSeconds, otherCpuSeconds };
}

const holds = (r: OpenLoopResult) => r.failures === 0 && r.answered === r.latencies.length && quantile(r.latencies, 0.99) <= P99_LIMIT_MS;

/**
 * A try that measured the machine, not the server: the generator itself sent late (send-lag p99 over
 * the p99 limit: it lost its core, and read the answers late too), or other processes used more
 * than OTHER_CPU_LIMIT cores meanwhile (a build on the same machine failed both servers' first rate
 * twice and ended both searches below it).
 */
const spoiled = (r: AtRate) => r.sendLagP99Ms > P99_LIMIT_MS || r.otherCpuSeconds / r.seconds > OTHER_CPU_LIMIT;

/**
 * The highest rate (requests/s) each server holds: grow until a rate fails, then bisect. The two
 * searches advance in turns (floor, bank, floor, ...), so that both meet the machine as it is over the
 * same minutes. On a shared machine other jobs can spoil a short run, so a rate fails only on its
 * second failure, tried on the server's next turn (after the other server's step rather than straight
 * after the first, which a stall of a few seconds would spoil as well). A failed try that measured
 * the machine, not the server (`spoiled`), is tried again, up to SPOILED_TRIES times per rate. A
 * search that has ended keeps taking its turns while the other runs, at its lowest failed rate; if
 * that now holds (the machine quietened), it resumes from there, so that the two capacities are of
 * the same minutes.
 */
async function findCapacities(generator: OpenLoopWorker, servers: Record<'floor' | 'bank', Started>, bodies: string[]): Promise<Record<'floor' | 'bank', number>> {
  const searches = Object.fromEntries(Object.keys(servers).map((name) => [name, capacitySearch()])) as Record<'floor' | 'bank', Generator<number, Capacity, boolean>>;
  const next = Object.fromEntries(Object.entries(searches).map(([name, search]) => [name, search.next()])) as Record<'floor' | 'bank', IteratorResult<number, Capacity>>;
  const tries = { floor: { failed: 0, spoiled: 0 }, bank: { failed: 0, spoiled: 0 } };
  while (!next.floor.done || !next.bank.done) {
    for (const name of ['floor', 'bank'] as const) {
      const step = next[name];
      if (step.done) {
        if (next[name === 'floor' ? 'bank' : 'floor'].done) continue;
        const { failed } = step.value;
        if (holds(await atRate(generator, 'capacity', name, servers[name], bodies, failed, STEP_SECONDS))) {
          searches[name] = capacitySearch(failed, Math.round(failed * GROWTH));
          next[name] = searches[name].next();
        }
        continue;
      }
      const run = await atRate(generator, 'capacity', name, servers[name], bodies, step.value, STEP_SECONDS);
      const held = holds(run);
      const t = tries[name];
      if (!held && spoiled(run) && t.spoiled < SPOILED_TRIES) {
        t.spoiled++;
        continue;
      }
      if (!held && t.failed === 0) {
        t.failed++;
        continue;
      }
      tries[name] = { failed: 0, spoiled: 0 };
      next[name] = searches[name].next(held);
    }
  }
  return { floor: (next.floor.value as Capacity).held, bank: (next.bank.value as Capacity).held };
}

/** Where a capacity search ended: the highest rate held, and the lowest rate that failed. */
interface Capacity {
  held: number;
  failed: number;
}

/** The rates a capacity search tries from `first` up, each told whether it held, knowing that `held` holds. */
function* capacitySearch(held = 0, first = FIRST_RATE): Generator<number, Capacity, boolean> {
  let failed = 0;
  for (let rate = first; failed === 0; rate = Math.round(rate * GROWTH)) {
    if (yield rate) held = rate;
    else failed = rate;
  }
  for (let i = 0; i < BISECTIONS; i++) {
    const rate = Math.round((held + failed) / 2);
    if (yield rate) held = rate;
    else failed = rate;
  }
  return { held, failed };
}

interface Pooled {
  latencies: Float64Array;
  /** Each round's own p99 (ms), in round order: how much of the pooled p99 one round made. */
  roundP99s: number[];
  /** The generator's send-lag p99 (ms) in the worst of these rounds: over a few ms, the generator, not the server, set the pace. */
  worstSendLagMs: number;
  /** Server CPU milliseconds per answered request: what a core must spend on each. */
  cpuMsPerRequest: number;
  /** The load generator's CPU milliseconds per answered request. */
  loaderMsPerRequest: number;
  /** Cores the rest of the machine used meanwhile. */
  otherCpu: number;
}

/**
 * Floor and bank at each fixed fraction of the floor's capacity, in alternating short rounds so that
 * both meet the same machine; latencies pooled over the rounds, stage means over the bank's rounds.
 * A round that measured the machine (`spoiled`) is run again, up to SPOILED_TRIES times; `spoiled`
 * counts those.
 */
async function fixedRates(generator: OpenLoopWorker, floor: Started, bank: Started, bodies: string[], floorCapacity: number) {
  let last: { floor: Pooled; bank: Pooled; rate: number; spoiled: number; stages: Record<string, number> } | undefined;
  for (const fraction of FIXED_FRACTIONS) {
    const rate = Math.max(1, Math.round(fraction * floorCapacity));
    const phase = `fixed ${fraction * 100}%`;
    const runs: Record<'floor' | 'bank', AtRate[]> = { floor: [], bank: [] };
    const stageSums = Object.fromEntries(SCORE_STAGES.map((stage) => [stage, { sum: 0, count: 0 }]));
    let spoiledRounds = 0;
    for (let round = 0; round < FIXED_ROUNDS; round++) {
      // Floor first in even rounds, bank first in odd ones: neither always follows the other.
      for (const name of round % 2 === 0 ? (['floor', 'bank'] as const) : (['bank', 'floor'] as const)) {
        const server = name === 'floor' ? floor : bank;
        for (let attempt = 0; ; attempt++) {
          const before = name === 'bank' ? await stageTotals(bank.base) : undefined;
          const run = await atRate(generator, `${phase}, round ${round + 1}`, name, server, bodies, rate, FIXED_SECONDS / FIXED_ROUNDS);
          if (spoiled(run) && attempt < SPOILED_TRIES) {
            spoiledRounds++;
            continue;
          }
          runs[name].push(run);
          if (before) {
            const after = await stageTotals(bank.base);
            for (const stage of SCORE_STAGES) {
              stageSums[stage].sum += after[stage].sum - before[stage].sum;
              stageSums[stage].count += after[stage].count - before[stage].count;
            }
          }
          break;
        }
      }
    }
    const pooled = (results: AtRate[]): Pooled => {
      const answered = results.reduce((sum, r) => sum + r.answered, 0);
      const total = (key: 'serverCpuSeconds' | 'loaderCpuSeconds' | 'otherCpuSeconds' | 'seconds') => results.reduce((sum, r) => sum + r[key], 0);
      return {
        latencies: Float64Array.from(results.flatMap((r) => [...r.latencies])).sort(),
        roundP99s: results.map((r) => round(quantile(r.latencies, 0.99), 3)),
        worstSendLagMs: Math.max(...results.map((r) => r.sendLagP99Ms)),
        cpuMsPerRequest: (1000 * total('serverCpuSeconds')) / answered,
        loaderMsPerRequest: (1000 * total('loaderCpuSeconds')) / answered,
        otherCpu: total('otherCpuSeconds') / total('seconds'),
      };
    };
    const result = { floor: pooled(runs.floor), bank: pooled(runs.bank), rate, spoiled: spoiledRounds, stages: Object.fromEntries(SCORE_STAGES.map((stage) => [stage, round((stageSums[stage].sum / stageSums[stage].count) * 1000, 4)])) };
    for (const name of ['floor', 'bank'] as const) {
      const { latencies, cpuMsPerRequest, loaderMsPerRequest, otherCpu } = result[name];
      emit({
        bench: 'serve',
        phase,
        server: name,
        rate_rps: rate,
        requests: latencies.length,
        p50_ms: round(quantile(latencies, 0.5), 3),
        p99_ms: round(quantile(latencies, 0.99), 3),
        p999_ms: round(quantile(latencies, 0.999), 3),
        server_cpu_ms_per_request: round(cpuMsPerRequest, 3),
        loader_cpu_ms_per_request: round(loaderMsPerRequest, 3),
        other_cpu: round(otherCpu, 2),
      });
    }
    emit({ bench: 'serve', phase, server: 'bank', stage_ms: result.stages });
    last = result;
  }
  return last!;
}

/** Per stage, the sum (seconds) and count of the server's userip_score_stage_duration_seconds histogram. */
async function stageTotals(base: string): Promise<Record<string, { sum: number; count: number }>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const series = (name: string, stage: string) => {
    const prefix = `userip_score_stage_duration_seconds_${name}{stage="${stage}"} `;
    const line = text.split('\n').find((l) => l.startsWith(prefix));
    if (!line) throw new Error(`${base}/metrics has no ${prefix.trim()}`);
    return Number(line.slice(prefix.length));
  };
  return Object.fromEntries(SCORE_STAGES.map((stage) => [stage, { sum: series('sum', stage), count: series('count', stage) }]));
}

/** CPU seconds (every state but idle and iowait) all cores have spent since boot, from /proc/stat; 0 where it is missing. */
async function machineCpuSeconds(): Promise<number> {
  try {
    const fields = (await readFile('/proc/stat', 'utf8')).split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ..., in clock ticks (100 per second on Linux).
    return (fields.reduce((a, b) => a + b, 0) - fields[3] - fields[4]) / 100;
  } catch {
    return 0;
  }
}

/** CPU seconds (user + system) a process has used, from /proc; 0 where /proc is missing. */
async function processCpuSeconds(pid: number): Promise<number> {
  try {
    const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
    // utime and stime are fields 14 and 15 of the line, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
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

function scoreRequests(bodies: string[]): autocannon.Request[] {
  return bodies.map((body) => ({ method: 'POST' as const, path: '/v1/score', headers: { 'content-type': 'application/json' }, body }));
}

/** ORT sessions, JIT, sockets. */
async function warmUp(base: string, bodies: string[], amount: number): Promise<void> {
  await load(base, scoreRequests(bodies), { amount });
}

async function closedLoop(mode: string, server: Started, bodies: string[], seconds: number): Promise<Measured> {
  const result = await load(server.base, scoreRequests(bodies), { duration: seconds });
  const sorted = Float64Array.from(result.latencies).sort();
  emit({ bench: 'serve', phase: `closed loop, concurrency ${CONCURRENCY}`, mode, requests: sorted.length, seconds: round(result.seconds, 1), p50_ms: round(quantile(sorted, 0.5), 3), p99_ms: round(quantile(sorted, 0.99), 3) });
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), rps: sorted.length / result.seconds, requests: sorted.length, peakRssMb: await peakRssMb(server.child.pid!) };
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

interface Started {
  base: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * A script of dist/ in its own process (`userip serve` through src/cli/main.js, or the floor), so
 * that the load generator does not share its event loop, with SERVER_NODE_FLAGS, on the server core
 * where there is one; its first line names its address.
 */
async function startServer(script: 'main.js' | 'serve-floor.js', args: string[], cores: Cores | undefined): Promise<Started> {
  const path = fileURLToPath(script === 'main.js' ? new URL('../src/cli/main.js', import.meta.url) : new URL('./serve-floor.js', import.meta.url));
  const command = [process.execPath, ...SERVER_NODE_FLAGS, path, ...args, ...(script === 'main.js' ? ['--port', '0'] : [])];
  // taskset runs node in its own process (exec), so child.pid is the server's.
  const pinned = cores ? ['taskset', '-c', String(cores.server), ...command] : command;
  const child = spawn(pinned[0], pinned.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`${script} ${args.join(' ')} exited with code ${code} before listening`)));
  });
  const base = /listening on (http:\/\/\S+)/.exec(line)?.[1];
  if (!base) throw new Error(`unexpected first line from ${script}: ${line}`);
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
  const tuned = await readRunProfiles(run);
  const lmDir = resolveLmDir(tuned.config.lm);
  const tokenizer = await loadTokenizer(lmDir);
  const windows = await runBehaviourWindows(tuned.config, tokenizer, (await readLmConfig(join(lmDir, 'config.json'))).maxPositions);
  const texts = new Map([...windows].map(([user, w]) => [user, w.tokens.map((ids) => tokenizer.decode(ids)).join('\n')]));
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
