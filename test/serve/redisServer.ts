/**
 * A throwaway `redis-server` on a free loopback port, with no persistence, for tests that need a
 * real Redis (Debian package `redis-server`; `.ci/run` installs it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';

export interface RedisServer {
  port: number;
  url: string;
  /** Kills the server (SIGKILL: no goodbye to clients, like a crash). */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
}

export async function startRedisServer(): Promise<RedisServer> {
  let lastError: Error | undefined;
  // The free port may be taken between probing and binding; try a few.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    let child: ChildProcess | undefined;
    try {
      child = await launch(port);
    } catch (error) {
      lastError = error as Error;
      continue;
    }
    const server: RedisServer = {
      port,
      url: `redis://127.0.0.1:${port}`,
      async stop() {
        const running = child;
        child = undefined;
        if (!running || running.exitCode !== null) return;
        const exited = new Promise((resolve) => running.once('exit', resolve));
        running.kill('SIGKILL');
        await exited;
      },
      async start() {
        if (child) throw new Error(`redis-server on port ${port} is already running`);
        child = await launch(port);
      },
    };
    return server;
  }
  throw new Error(`cannot start redis-server: ${lastError?.message}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

async function launch(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (error) => reject(new Error(`redis-server could not be run (is the redis-server package installed?): ${error.message}`)));
    child.once('exit', (code) => reject(new Error(`redis-server exited with code ${code} before accepting connections on port ${port}`)));
  });
  failed.catch(() => undefined);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const up = await Promise.race([accepts(port), failed]);
    if (up) return child;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not accept connections on port ${port} within 10 s`);
}

/** True when something on the port answers a PING with PONG. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('error', () => resolve(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
  });
}
