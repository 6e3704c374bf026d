/**
 * The onnxruntime-node worker: session.run blocks its thread for the whole run, so sessions live
 * here and the main event loop stays free. Sessions are created once per graph hash and reused.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { freeNow } from './free.js';
import { ortSessionOptions } from './ort-options.js';
import type { WorkerRequest, WorkerResponse, HostTensor } from './runtime.js';

const threads: number = workerData.threads;
const sessions = new Map<string, ort.InferenceSession>();


function toOrt(t: HostTensor): ort.Tensor {
  return new ort.Tensor(t.dtype, t.data as never, t.shape);
}

function fromOrt(t: ort.Tensor): HostTensor {
  return { dtype: t.type as HostTensor['dtype'], shape: [...t.dims], data: t.data as HostTensor['data'] };
}

async function handle(req: WorkerRequest): Promise<{ result?: unknown; transfer?: ArrayBuffer[] }> {
  switch (req.type) {
    case 'load': {
      if (!sessions.has(req.hash)) {
        const session =
          typeof req.model === 'string'
            ? await ort.InferenceSession.create(req.model, ortSessionOptions(threads, req.lean))
            : await ort.InferenceSession.create(req.model, ortSessionOptions(threads, req.lean));
        sessions.set(req.hash, session);
      }
      // The session holds its own copy of the weights; the model bytes would otherwise wait for this
      // thread's next garbage collection.
      if (typeof req.model !== 'string') freeNow([req.model]);
      const s = sessions.get(req.hash)!;
      return { result: { inputNames: s.inputNames, outputNames: s.outputNames } };
    }
    case 'run': {
      const session = sessions.get(req.hash);
      if (!session) throw new Error(`no session for graph ${req.hash.slice(0, 12)}`);
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(req.feeds)) feeds[name] = toOrt(t);
      const out = await session.run(feeds, req.outputs);
      const result: Record<string, HostTensor> = {};
      const transfer: ArrayBuffer[] = [];
      for (const [name, t] of Object.entries(out)) {
        const host = fromOrt(t);
        // Move each output's buffer to the main thread rather than copy it: a copy would leave the
        // original (the logits can be 100 MB) waiting for this thread's garbage collector.
        const whole = host.data.byteOffset === 0 && host.data.byteLength === host.data.buffer.byteLength;
        const data = whole && !transfer.includes(host.data.buffer as ArrayBuffer) ? host.data : host.data.slice();
        result[name] = { ...host, data };
        transfer.push(data.buffer as ArrayBuffer);
      }
      return { result, transfer };
    }
    case 'release': {
      const s = sessions.get(req.hash);
      sessions.delete(req.hash);
      await s?.release();
      return {};
    }
  }
}

parentPort!.on('message', (req: WorkerRequest) => {
  handle(req).then(
    ({ result, transfer }) => parentPort!.postMessage({ id: req.id, ok: true, result } satisfies WorkerResponse, transfer ?? []),
    (err: unknown) =>
      parentPort!.postMessage({ id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) } satisfies WorkerResponse),
  );
});
