/**
 * A session run in the calling thread. ORT's run blocks its thread for the whole run, which is why
 * sessions normally live in the Runtime's worker; but for a graph that runs in tens of microseconds
 * (a serving request's CTR forward over about a hundred rows) the worker's message round trip and
 * thread wake-up cost more than the run itself.
 */
import * as ort from 'onnxruntime-node';
import type { Graph } from './graph.js';
import { serialize } from './onnx.js';
import { ortSessionOptions } from './ort-options.js';
import type { HostTensor } from './runtime.js';

export class InlineSession {
  private constructor(private readonly session: ort.InferenceSession) {}

  static async create(graph: Graph, threads = 1): Promise<InlineSession> {
    const model = serialize(graph);
    if (model.externalData) throw new Error(`graph ${graph.name} is too large to run inline (its initializers need an external data file); run it on a Runtime`);
    return new InlineSession(await ort.InferenceSession.create(model.model, ortSessionOptions(threads)));
  }

  /** Run with the given feeds; returns the requested outputs (all by default). */
  async run(feeds: Record<string, HostTensor>, outputs?: string[]): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(t.dtype, t.data as never, t.shape);
    const out = await this.session.run(ortFeeds, outputs ?? this.session.outputNames);
    const result: Record<string, HostTensor> = {};
    for (const [name, t] of Object.entries(out)) result[name] = { dtype: t.type as HostTensor['dtype'], shape: [...t.dims], data: t.data as HostTensor['data'] };
    return result;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
