/**
 * DCN (v1, no dense fields) scored in plain TypeScript with most of its arithmetic done once, when
 * the model is loaded, instead of on every row.
 *
 * x0 is the field embeddings side by side, so everything that reads x0 through a linear map is a sum
 * over fields of that field's embedding row through its slice of the map. Those per-row products are
 * tabled per field at load:
 *
 * - the first MLP layer: x0 W1 = Σ_f e_f W1[f];
 * - the cross network: a v1 cross layer x_{l+1} = x0 (x_l · w_l) + b_l + x_l keeps every x_l on the
 *   line x_l = α_l x0 + β_l (α_0 = 1, β_0 = 0): α_{l+1} = α_l (1 + x0 · w_l) + β_l · w_l and
 *   β_{l+1} = β_l + b_l. So the cross network needs only the scalars x0 · w_l, and the head reads
 *   its output as α_L (x0 · h) + β_L · h, one more scalar x0 · h. β_l · w_l and β_L · h are constants.
 *
 * A row then costs F table reads of (layers + 1 + first MLP width) numbers, the MLP's later layers
 * and the head. Sums run in float64; the result agrees with ORT's float32 to float rounding.
 */
import type { CtrModel } from './model.js';

const EMBEDDINGS = 'factor';

export class FactoredDcn {
  /** Per field and table row: x0·w_l for each cross layer, x0·h (the head's cross part), then the first MLP layer's pre-activation part. */
  private readonly tabled: Float32Array;
  /** Where each field's rows start in `tabled`, in rows. */
  private readonly fieldStart: Int32Array;
  private readonly width: number;
  private readonly layers: number;
  /** β_l · w_l per cross layer. */
  private readonly crossConstant: Float64Array;
  /** β_L · h plus the head's bias. */
  private readonly logitConstant: number;
  /** MLP layers after the first: weights [in, out] and biases; the first layer's bias. */
  private readonly mlp: { weight: Float64Array; bias: Float64Array; outputs: number }[];
  private readonly firstBias: Float64Array;
  /** The head's weights on the MLP's output. */
  private readonly mlpHead: Float64Array;
  /** The tabled sums of the fields every row shares. */
  private readonly shared: Float64Array;
  /** Scratch, kept between calls: the rows' tabled sums, the first MLP layer's activations, then the later layers' in turn. */
  private readonly buffers: Float64Array[] = [];

  /** The factored form of `model`, or undefined when it is not a DCN (v1) on sparse fields only. */
  static of(model: CtrModel): FactoredDcn | undefined {
    return model.config.model === 'dcn' && model.schema.dense.length === 0 ? new FactoredDcn(model) : undefined;
  }

  private constructor(model: CtrModel) {
    const { config, schema, weights } = model;
    const k = config.embeddingSize;
    const fields = schema.sparse.length;
    const d = fields * k;
    const param = (name: string) => {
      const p = weights.params.get(name);
      if (!p) throw new Error(`DCN model has no parameter ${name}`);
      return p;
    };
    const tables = weights.tables.get(EMBEDDINGS);
    if (!tables) throw new Error(`DCN model has no "${EMBEDDINGS}" tables`);
    this.layers = config.crossLayers;
    const sizes = config.mlp;
    const first = sizes.length > 0 ? sizes[0] : 0;
    this.width = this.layers + 1 + first;
    const head = param('head.weight');
    const cross = Array.from({ length: this.layers }, (_, l) => ({ weight: param(`cross.${l}.weight`), bias: param(`cross.${l}.bias`) }));
    const w1 = first > 0 ? param('mlp.0.weight') : new Float32Array(0);

    this.fieldStart = new Int32Array(fields);
    for (let f = 1; f < fields; f++) this.fieldStart[f] = this.fieldStart[f - 1] + schema.sparse[f - 1].vocabSize + 1;
    const rows = this.fieldStart[fields - 1] + schema.sparse[fields - 1].vocabSize + 1;
    // Stored as float32 (the weights' own precision), summed in float64: half the bytes a row's lookup brings into cache.
    this.tabled = new Float32Array(rows * this.width);
    const products = new Float64Array(this.width);
    for (let f = 0; f < fields; f++) {
      const table = tables[f];
      for (let row = 0; row <= schema.sparse[f].vocabSize; row++) {
        products.fill(0);
        for (let c = 0; c < k; c++) {
          const e = table[row * k + c];
          const at = f * k + c;
          for (let l = 0; l < this.layers; l++) products[l] += e * cross[l].weight[at];
          products[this.layers] += e * head[at];
          for (let j = 0; j < first; j++) products[this.layers + 1 + j] += e * w1[at * first + j];
        }
        this.tabled.set(products, (this.fieldStart[f] + row) * this.width);
      }
    }

    this.crossConstant = new Float64Array(this.layers);
    const beta = new Float64Array(d);
    for (let l = 0; l < this.layers; l++) {
      for (let i = 0; i < d; i++) this.crossConstant[l] += beta[i] * cross[l].weight[i];
      for (let i = 0; i < d; i++) beta[i] += cross[l].bias[i];
    }
    let constant = param('head.bias')[0];
    for (let i = 0; i < d; i++) constant += beta[i] * head[i];
    this.logitConstant = constant;

    this.firstBias = first > 0 ? Float64Array.from(param('mlp.0.bias')) : new Float64Array(0);
    this.mlp = sizes.slice(1).map((outputs, i) => ({ weight: Float64Array.from(param(`mlp.${i + 1}.weight`)), bias: Float64Array.from(param(`mlp.${i + 1}.bias`)), outputs }));
    this.mlpHead = Float64Array.from(head.subarray(d));
    this.shared = new Float64Array(this.width);
  }

  /**
   * One logit per row of `rows` ([n, F] table rows in schema field order, as `CtrModel.encode` gives
   * them). A field whose row is the same on every row (a request's user and profile fields) is summed
   * once, not per row. Each stage runs over all rows before the next, in plain loops.
   */
  logits(rows: Int32Array, n: number): Float32Array {
    const fields = this.fieldStart.length;
    if (rows.length !== n * fields) throw new Error(`expected ${n} rows of ${fields} fields, got ${rows.length} table rows`);
    const { tabled, width, layers, shared, mlp, mlpHead, firstBias, crossConstant, logitConstant, fieldStart } = this;
    shared.fill(0);
    const varying: number[] = [];
    for (let f = 0; f < fields; f++) {
      const first = rows[f];
      let same = true;
      for (let r = 1; r < n && same; r++) same = rows[r * fields + f] === first;
      if (!same) varying.push(f);
      else {
        const at = (fieldStart[f] + first) * width;
        for (let j = 0; j < width; j++) shared[j] += tabled[at + j];
      }
    }
    const sums = this.scratch(0, n * width);
    for (let r = 0; r < n; r++) {
      const base = r * width;
      for (let j = 0; j < width; j++) sums[base + j] = shared[j];
      for (let v = 0; v < varying.length; v++) {
        const f = varying[v];
        const at = (fieldStart[f] + rows[r * fields + f]) * width;
        for (let j = 0; j < width; j++) sums[base + j] += tabled[at + j];
      }
    }
    const out = new Float32Array(n);
    for (let r = 0; r < n; r++) {
      const base = r * width;
      let alpha = 1;
      for (let l = 0; l < layers; l++) alpha = alpha * (1 + sums[base + l]) + crossConstant[l];
      out[r] = logitConstant + alpha * sums[base + layers];
    }
    if (firstBias.length === 0) return out;
    let inputs = firstBias.length;
    let h = this.scratch(1, n * inputs);
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < inputs; j++) {
        const v = sums[r * width + layers + 1 + j] + firstBias[j];
        h[r * inputs + j] = v > 0 ? v : 0;
      }
    }
    for (let i = 0; i < mlp.length; i++) {
      const { weight, bias, outputs } = mlp[i];
      const next = this.scratch(2 + (i % 2), n * outputs);
      for (let r = 0; r < n; r++) {
        const o0 = r * outputs;
        for (let o = 0; o < outputs; o++) next[o0 + o] = bias[o];
        for (let j = 0; j < inputs; j++) {
          // About half the activations are ReLU zeros, which add nothing.
          const x = h[r * inputs + j];
          if (x === 0) continue;
          const w0 = j * outputs;
          for (let o = 0; o < outputs; o++) next[o0 + o] += x * weight[w0 + o];
        }
        for (let o = 0; o < outputs; o++) if (next[o0 + o] < 0) next[o0 + o] = 0;
      }
      h = next;
      inputs = outputs;
    }
    for (let r = 0; r < n; r++) {
      let logit = out[r];
      for (let j = 0; j < inputs; j++) logit += h[r * inputs + j] * mlpHead[j];
      out[r] = logit;
    }
    return out;
  }

  /** Scratch buffer `which`, of at least `size` numbers, kept from call to call. */
  private scratch(which: number, size: number): Float64Array {
    const buffer = this.buffers[which];
    return buffer && buffer.length >= size ? buffer : (this.buffers[which] = new Float64Array(size));
  }
}
