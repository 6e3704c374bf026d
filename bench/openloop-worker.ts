/** The worker thread `OpenLoopWorker` runs: one open-loop run per message, its result posted back. */
import { parentPort } from 'node:worker_threads';
import { openLoop, type OpenLoopOptions } from './openloop.js';

const port = parentPort!;
port.on('message', (options: OpenLoopOptions) => {
  // Buffers arrive as plain Uint8Arrays.
  const requests = options.requests.map((r) => Buffer.from(r.buffer, r.byteOffset, r.byteLength));
  openLoop({ ...options, requests }).then(
    (result) => port.postMessage({ result }, [result.latencies.buffer as ArrayBuffer]),
    (error: Error) => port.postMessage({ error: error.stack ?? String(error) }),
  );
});
