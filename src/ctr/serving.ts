/**
 * A trained model frozen for serving. The scoring graph is built again with the weights as graph
 * constants (each table family's per-field tables stacked into one), so a request feeds only its
 * rows' table indices: no weight is copied per request and no local tables are gathered. The graph
 * runs in an ORT session in the calling thread (`InlineSession`): for a request's hundred rows that
 * is cheaper than the round trip to the Runtime's worker. `logitsInProcess` evaluates the same graph
 * in plain TypeScript, for comparison.
 *
 * A DCN (v1) on sparse fields is scored by `FactoredDcn` instead (`score`): its first layers tabled
 * per field at load and its row loop in WebAssembly, synchronous, cheaper than the ORT run for a
 * request's rows and free of onnxruntime-node's deferral of every run to the event loop's next check
 * phase.
 *
 * The weights are read once, when the frozen graph is built: for a loaded model that is served, not
 * for one still training.
 */
import { float32, InlineSession, type Graph, type HostTensor } from '../engine/index.js';
import { FactoredDcn } from './factored.js';
import { InProcessGraph } from './forward.js';
import type { CtrModel, EncodedRows } from './model.js';
import { NETWORKS } from './models/index.js';
import { buildGraph } from './net.js';
import type { CtrRows } from './schema.js';

export class ServingModel {
  readonly graph: Graph;
  /** Per sparse field, where its table starts in the stacked tables. */
  private readonly offsets: Int32Array;
  private session?: Promise<InlineSession>;
  private inProcess?: InProcessGraph;
  /** Set for a model `FactoredDcn` scores. */
  private readonly factored?: FactoredDcn;

  constructor(
    private readonly model: CtrModel,
    private readonly threads = 1,
  ) {
    this.graph = buildGraph(NETWORKS[model.config.model], model.config, model.schema, false, model.weights).graph;
    const fields = model.schema.sparse;
    this.offsets = new Int32Array(fields.length);
    for (let f = 1; f < fields.length; f++) this.offsets[f] = this.offsets[f - 1] + fields[f - 1].vocabSize + 1;
    this.factored = FactoredDcn.of(model);
  }

  /** Which forward `score` runs. */
  get forward(): 'factored' | 'ort' {
    return this.factored ? 'factored' : 'ort';
  }

  /** The frozen graph's feeds for all of `rows`, as one batch. */
  feeds(rows: CtrRows): Record<string, HostTensor> {
    return this.encodedFeeds(this.model.encode(rows));
  }

  /** The frozen graph's feeds for rows already encoded (`CtrModel.encode`, `CtrModel.tableRow`). */
  encodedFeeds(data: EncodedRows): Record<string, HostTensor> {
    const fields = this.offsets.length;
    const stacked = new Int32Array(data.rows.length);
    for (let i = 0; i < stacked.length; i++) stacked[i] = data.rows[i] + this.offsets[i % fields];
    const feeds: Record<string, HostTensor> = { rows: { dtype: 'int32', shape: [data.n, fields], data: stacked } };
    this.model.schema.dense.forEach((f, i) => (feeds[`dense.${f.name}`] = float32(data.dense[i], [data.n, f.width])));
    return feeds;
  }

  /** Creates the ORT session `score` runs now rather than on the first request (and fails now if it cannot). */
  async ready(): Promise<void> {
    if (!this.factored) await (this.session ??= InlineSession.create(this.graph, this.threads));
  }

  /** One logit per encoded row: by `FactoredDcn` where it applies (written to `into` when given), else by ORT in this thread (in an array of its own). */
  score(data: EncodedRows, into?: Float32Array): Float32Array | Promise<Float32Array> {
    return this.factored ? this.factored.logits(data.rows, data.n, into) : this.logits(this.encodedFeeds(data));
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
