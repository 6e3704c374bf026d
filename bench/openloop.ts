/**
 * Open-loop HTTP load at a fixed rate: request i is due at i / rate seconds whether or not earlier
 * requests have been answered, so a slow server meets more load, not less (closed-loop tools such as
 * autocannon at a fixed concurrency wait for answers; its `overallRate` sends each second's quota in
 * a burst at the start of the second). Keep-alive connections are opened as needed; requests are
 * prebuilt bytes and answers are read by content-length, so the generator's own cost per request is
 * small, and it is measured: `loaderCpu` is the generator process's CPU over the run, in cores.
 *
 * Timers fire about once a millisecond, so requests leave in per-millisecond groups; each latency
 * runs from the moment its request is written (or, when every allowed connection is busy, from when
 * it was due), and `sendLagP99Ms` says how late the generator itself was.
 */
import { connect, type Socket } from 'node:net';
import { Worker } from 'node:worker_threads';

export interface OpenLoopOptions {
  host: string;
  port: number;
  /** Complete HTTP/1.1 requests, sent in turn. */
  requests: readonly Buffer[];
  rate: number;
  seconds: number;
  /** Connections at most; a request due while all are busy waits for one. */
  maxConnections?: number;
  /** How long to wait for answers after the last request is due. */
  drainSeconds?: number;
}

export interface OpenLoopResult {
  /** Milliseconds per answered request, sorted; unanswered requests count as Infinity. */
  latencies: Float64Array;
  sent: number;
  answered: number;
  /** Answers other than 2xx, and connection errors. */
  failures: number;
  seconds: number;
  loaderCpu: number;
  sendLagP99Ms: number;
  connections: number;
}

interface Connection {
  socket: Socket;
  /** When the request in flight was written, or was due if it waited for a connection; -1 when idle. */
  started: number;
  buffer: Buffer;
}

export function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export async function openLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const { host, port, requests, rate, seconds } = options;
  const maxConnections = options.maxConnections ?? 512;
  const total = Math.max(1, Math.round(rate * seconds));
  const latencies: number[] = [];
  const lags = new Float64Array(total);
  const connections = new Set<Connection>();
  const idle: Connection[] = [];
  /** Due times of requests waiting for a connection. */
  const waiting: number[] = [];
  let sent = 0;
  let answered = 0;
  let failures = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => (finish = resolve));
  const settle = () => {
    if (answered + failures === total) finish();
  };

  const send = (conn: Connection, since: number) => {
    conn.started = since;
    conn.socket.write(requests[sent++ % requests.length]);
  };
  const release = (conn: Connection) => {
    const due = waiting.shift();
    if (due !== undefined) send(conn, due);
    else idle.push(conn);
  };
  const newConnection = (): Connection => {
    const conn: Connection = { socket: connect({ host, port, noDelay: true }), started: -1, buffer: Buffer.alloc(0) };
    connections.add(conn);
    conn.socket.on('data', (chunk: Buffer) => {
      conn.buffer = conn.buffer.length === 0 ? chunk : Buffer.concat([conn.buffer, chunk]);
      const headerEnd = conn.buffer.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const head = conn.buffer.toString('latin1', 0, headerEnd);
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? NaN);
      if (!Number.isFinite(length)) throw new Error(`answer without content-length from ${host}:${port}: ${head.split('\r\n')[0]}`);
      if (conn.buffer.length < headerEnd + 4 + length) return;
      if (conn.buffer.length > headerEnd + 4 + length) throw new Error(`more bytes than one answer from ${host}:${port}`);
      conn.buffer = Buffer.alloc(0);
      const status = Number(head.slice(9, 12));
      if (status >= 200 && status < 300) {
        latencies.push(performance.now() - conn.started);
        answered++;
      } else failures++;
      conn.started = -1;
      release(conn);
      settle();
    });
    conn.socket.on('error', () => conn.socket.destroy());
    conn.socket.on('close', () => {
      connections.delete(conn);
      const at = idle.indexOf(conn);
      if (at >= 0) idle.splice(at, 1);
      if (conn.started >= 0) {
        failures++;
        settle();
      }
    });
    return conn;
  };

  // A few connections up front, as a steady client would hold.
  for (let i = 0; i < Math.min(16, maxConnections); i++) idle.push(newConnection());
  await new Promise((resolve) => setTimeout(resolve, 100));
  const opened = connections.size;

  const cpu = process.cpuUsage();
  const start = performance.now();
  const interval = 1000 / rate;
  let next = 0;
  let extra = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (next < total && start + next * interval <= now) {
        lags[next] = now - (start + next * interval);
        const conn = idle.pop() ?? (connections.size < maxConnections ? (extra++, newConnection()) : undefined);
        if (conn) send(conn, now);
        else waiting.push(now);
        next++;
      }
      if (next < total) setTimeout(tick, Math.max(0, start + next * interval - performance.now()));
      else resolve();
    };
    tick();
  });
  const drain = new Promise<void>((resolve) => setTimeout(resolve, (options.drainSeconds ?? 2) * 1000));
  await Promise.race([done, drain]);
  const elapsed = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  for (const conn of connections) conn.socket.destroy();
  const all = Float64Array.from([...latencies, ...new Array<number>(total - answered).fill(Infinity)]).sort();
  return {
    latencies: all,
    sent,
    answered,
    failures,
    seconds: elapsed,
    loaderCpu: (used.user + used.system) / 1e6 / elapsed,
    sendLagP99Ms: quantile(lags.sort(), 0.99),
    connections: opened + extra,
  };
}

/**
 * `openLoop` in a worker thread of its own, one run at a time: its heap holds only the requests and a
 * run's timings, so it collects in short scavenges. In the bench's main thread, whose heap holds the
 * model and data the bench loaded (some 45 MB live), the generator stopped for each of that heap's
 * mark-compacts: 7-18 ms every 3-5 s under load, plus incremental marking steps of up to 16 ms
 * (--trace-gc), i.e. the send lags of 10-25 ms that spoiled whole rounds.
 */
export class OpenLoopWorker {
  private readonly worker = new Worker(new URL('./openloop-worker.js', import.meta.url));

  run(options: OpenLoopOptions): Promise<OpenLoopResult> {
    return new Promise((resolve, reject) => {
      const failed = (error: Error) => reject(error);
      this.worker.once('error', failed);
      this.worker.once('message', (answer: { result?: OpenLoopResult; error?: string }) => {
        this.worker.off('error', failed);
        if (answer.result) resolve(answer.result);
        else reject(new Error(`open-loop run failed: ${answer.error}`));
      });
      this.worker.postMessage(options);
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
