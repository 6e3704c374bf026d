/**
 * A trained model frozen for serving. The scoring graph is built again with the weights as graph
 * constants (each table family's per-field tables stacked into one), so a request feeds only its
 * rows' table indices: nothing per weight is copied to the ORT worker, and no local tables are
 * gathered on the way. The same frozen graph also runs in this thread (`logitsInProcess`), with no
 * worker round trip, for comparison.
 *
 * The weights are read once, when the frozen graph is built: for a loaded model that is served, not
 * for one still training.
 */
import { float32, type Graph, type HostTensor, type Runtime, type Session } from '../engine/index.js';
import { InProcessGraph } from './forward.js';
import type { CtrModel } from './model.js';
import { NETWORKS } from './models/index.js';
import { buildGraph } from './net.js';
import type { CtrRows } from './schema.js';

export class ServingModel {
  readonly graph: Graph;
  /** Per sparse field, where its table starts in the stacked tables. */
  private readonly offsets: Int32Array;
  private session?: Promise<Session>;
  private inProcess?: InProcessGraph;

  constructor(
    private readonly model: CtrModel,
    private readonly runtime: Runtime,
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

  /** One logit per row of `feeds`, from ORT on the model's runtime. */
  async logits(feeds: Record<string, HostTensor>): Promise<Float32Array> {
    const session = await (this.session ??= this.runtime.session(this.graph));
    return (await session.run(feeds, ['logit'])).logit.data as Float32Array;
  }

  /** One logit per row of `feeds`, computed in this thread; agrees with `logits` to float rounding. */
  logitsInProcess(feeds: Record<string, HostTensor>): Float32Array {
    return (this.inProcess ??= new InProcessGraph(this.graph, 'logit')).run(feeds);
  }
}
