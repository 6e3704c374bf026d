/**
 * Running graphs: one onnxruntime-node worker thread per Runtime, sessions cached by the graph's
 * content hash so that building the same graph twice creates one session.
 */
import { mkdirSync, existsSync } from 'node:fs';
import { writeFileAtomic } from '../io/atomic.js';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { freeNow } from './free.js';
import type { Graph } from './graph.js';
import { serialize, type SerializedModel } from './onnx.js';

export type HostData = Float32Array | BigInt64Array | Int32Array | Uint8Array;

/** A tensor in JS memory: what feeds and results look like. */
export interface HostTensor {
  dtype: 'float32' | 'int64' | 'int32' | 'bool';
  shape: number[];
  data: HostData;
}

export type WorkerRequest =
  | { type: 'load'; id: number; hash: string; model: Uint8Array | string; lean: boolean }
  | { type: 'run'; id: number; hash: string; feeds: Record<string, HostTensor>; outputs: string[] }
  | { type: 'release'; id: number; hash: string };

export type WorkerResponse = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export function float32(data: Float32Array | number[], shape: number[]): HostTensor {
  return { dtype: 'float32', shape, data: data instanceof Float32Array ? data : Float32Array.from(data) };
}

export function int64(data: ArrayLike<number>, shape: number[]): HostTensor {
  return { dtype: 'int64', shape, data: BigInt64Array.from(Array.from(data), (v) => BigInt(v)) };
}

export interface RuntimeOptions {
  /** ORT intra-op threads; defaults to all cores. */
  threads?: number;
  /** Where models with external data (see `EXTERNAL_DATA_ABOVE`) are written next to their weights. */
  cacheDir?: string;
  /**
   * true: sessions hold one unpacked copy of each weight and keep no per-shape memory pattern
   * (docs/models.md, "Memory"). false: onnxruntime's own defaults. Default: lean for models whose
   * weights go to an external data file (over `EXTERNAL_DATA_ABOVE`), where memory is at stake.
   */
  leanMemory?: boolean;
}

type Distribute<T> = T extends unknown ? Omit<T, 'id'> : never;

export class Runtime {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly sessions = new Map<string, Promise<Session>>();
  private nextId = 0;
  private readonly cacheDir: string;
  private readonly leanMemory: boolean | undefined;

  constructor(options: RuntimeOptions = {}) {
    const threads = options.threads ?? availableParallelism();
    this.cacheDir = options.cacheDir ?? join(tmpdir(), 'userip-onnx');
    this.leanMemory = options.leanMemory;
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: { threads } });
    this.worker.on('message', (msg: WorkerResponse) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (this.pending.size === 0) this.worker.unref();
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(msg.error));
    });
    this.worker.on('error', (err) => {
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
    // After the listeners: attaching a 'message' listener refs the worker again.
    this.worker.unref();
  }

  /** Send a request; the worker keeps the process alive only while requests are in flight. */
  request<T>(req: Distribute<WorkerRequest>, transfer: ArrayBuffer[] = []): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.ref();
      this.worker.postMessage({ ...req, id }, transfer);
    });
  }

  /**
   * A session for the graph, shared with any earlier identical graph. A Graph is serialized here,
   * and the serialized bytes are freed as soon as the worker has them.
   */
  session(graph: Graph | SerializedModel): Promise<Session> {
    const ownsBytes = 'nodes' in graph;
    const model = ownsBytes ? serialize(graph) : graph;
    let s = this.sessions.get(model.hash);
    if (!s) {
      s = this.load(model, ownsBytes);
      this.sessions.set(model.hash, s);
      s.catch(() => this.sessions.delete(model.hash));
    } else if (ownsBytes && model.externalData) freeNow([model.externalData]);
    return s;
  }

  private async load(model: SerializedModel, ownsBytes: boolean): Promise<Session> {
    const lean = this.leanMemory ?? model.externalData !== undefined;
    let source: Uint8Array | string = model.model;
    const transfer: ArrayBuffer[] = [];
    if (model.externalData && model.externalHash) {
      // ORT reads external data relative to the model file: one directory per set of weights, holding
      // them once and every model over them (a forward and a training graph map the same file).
      const dir = join(this.cacheDir, model.externalHash);
      const weights = join(dir, 'weights.bin');
      source = join(dir, `${model.hash}.onnx`);
      mkdirSync(dir, { recursive: true });
      if (!existsSync(weights)) await writeFileAtomic(weights, model.externalData);
      if (!existsSync(source)) await writeFileAtomic(source, model.model);
      if (ownsBytes) freeNow([model.externalData]);
    } else if (model.model.byteOffset === 0 && model.model.byteLength === model.model.buffer.byteLength) {
      transfer.push(model.model.buffer as ArrayBuffer);
    }
    const info = await this.request<{ inputNames: string[]; outputNames: string[] }>({ type: 'load', hash: model.hash, model: source, lean }, transfer);
    return new Session(this, model.hash, info.inputNames, info.outputNames);
  }

  /** Free a session's memory in the worker (its weights and buffers); later runs of it fail. */
  async release(session: Session): Promise<void> {
    this.sessions.delete(session.hash);
    await this.request({ type: 'release', hash: session.hash });
  }

  /** Release every session and stop the worker. */
  async close(): Promise<void> {
    this.sessions.clear();
    await this.worker.terminate();
  }
}

export class Session {
  constructor(
    private readonly runtime: Runtime,
    readonly hash: string,
    readonly inputNames: string[],
    readonly outputNames: string[],
  ) {}

  /** Run with the given feeds; returns the requested outputs (all by default). */
  run(feeds: Record<string, HostTensor>, outputs: string[] = this.outputNames): Promise<Record<string, HostTensor>> {
    const missing = this.inputNames.filter((n) => !(n in feeds));
    if (missing.length) return Promise.reject(new Error(`session ${this.hash.slice(0, 12)}: missing feeds ${missing.join(', ')}`));
    return this.runtime.request({ type: 'run', hash: this.hash, feeds, outputs });
  }
}

let shared: Runtime | undefined;

/** The process-wide runtime (one worker) used unless a caller makes its own. */
export function defaultRuntime(): Runtime {
  shared ??= new Runtime();
  return shared;
}
