/**
 * A trained model frozen for serving. The scoring graph is built again with the weights as graph
 * constants (each table family's per-field tables stacked into one), so a request feeds only its
 * rows' table indices: no weight is copied per request and no local tables are gathered. The graph
 * runs in an ORT session in the calling thread (`InlineSession`): for a request's hundred rows that
 * is cheaper than the round trip to the Runtime's worker. `logitsInProcess` evaluates the same graph
 * in plain TypeScript, for comparison.
 *
 * The weights are read once, when the frozen graph is built: for a loaded model that is served, not
 * for one still training.
 */
import { float32, InlineSession, type Graph, type HostTensor } from '../engine/index.js';
import { InProcessGraph } from './forward.js';
import type { CtrModel } from './model.js';
import { NETWORKS } from './models/index.js';
import { buildGraph } from './net.js';
import type { CtrRows } from './schema.js';

export class ServingModel {
  readonly graph: Graph;
  /** Per sparse field, where its table starts in the stacked tables. */
  private readonly offsets: Int32Array;
  private session?: Promise<InlineSession>;
  private inProcess?: InProcessGraph;

  constructor(
    private readonly model: CtrModel,
    private readonly threads = 1,
  ) {
    this.graph = buildGraph(NETWORKS[model.config.model], model.config, model.schema, false, model.weights).graph;
    const fields = model.schema.sparse;
    this.offsets = new Int32Array(fields.length);
    for (let f = 1; f < fields.length; f++) this.offsets[f] = this.offsets[f - 1] + fields[f - 1].vocabSize + 1;
  }

  /** The frozen graph's feeds for all of `rows`, as one batch. */
  feeds(rows: CtrRows): Record<string, HostTensor> {
    const data = this.model.encode(rows);
    const fields = this.offsets.length;
    const stacked = new Int32Array(data.rows.length);
    for (let i = 0; i < stacked.length; i++) stacked[i] = data.rows[i] + this.offsets[i % fields];
    const feeds: Record<string, HostTensor> = { rows: { dtype: 'int32', shape: [data.n, fields], data: stacked } };
    this.model.schema.dense.forEach((f, i) => (feeds[`dense.${f.name}`] = float32(data.dense[i], [data.n, f.width])));
    return feeds;
  }

  /** Creates the ORT session now rather than on the first request (and fails now if it cannot). */
  async ready(): Promise<void> {
    await (this.session ??= InlineSession.create(this.graph, this.threads));
  }

  /** One logit per row of `feeds`, from ORT in this thread. */
  async logits(feeds: Record<string, HostTensor>): Promise<Float32Array> {
    const session = await (this.session ??= InlineSession.create(this.graph, this.threads));
    return (await session.run(feeds, ['logit'])).logit.data as Float32Array;
  }

  /** One logit per row of `feeds`, computed in this thread; agrees with `logits` to float rounding. */
  logitsInProcess(feeds: Record<string, HostTensor>): Float32Array {
    return (this.inProcess ??= new InProcessGraph(this.graph, 'logit')).run(feeds);
  }
}
