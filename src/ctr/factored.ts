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
  /** MLP layers after the first: weights transposed to [out, in] (an output's inputs side by side) and biases; the first layer's bias. */
  private readonly mlp: { transposed: Float64Array; bias: Float64Array }[];
  private readonly firstBias: Float64Array;
  /** The head's weights on the MLP's output. */
  private readonly mlpHead: Float64Array;
  /** The tabled sums of the fields every row shares (and the first MLP layer's bias). */
  private readonly shared: Float64Array;
  /** Scratch, kept between calls: one row's tabled sums; the fields whose rows vary, and where their rows start; two layers' activations. */
  private readonly sums: Float64Array;
  private readonly varying: Int32Array;
  private readonly at: Int32Array;
  private readonly activations: [Float64Array, Float64Array];

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
    this.mlp = sizes.slice(1).map((outputs, i) => {
      const inputs = sizes[i];
      const weight = param(`mlp.${i + 1}.weight`);
      const transposed = new Float64Array(inputs * outputs);
      for (let j = 0; j < inputs; j++) for (let o = 0; o < outputs; o++) transposed[o * inputs + j] = weight[j * outputs + o];
      return { transposed, bias: Float64Array.from(param(`mlp.${i + 1}.bias`)) };
    });
    this.mlpHead = Float64Array.from(head.subarray(d));
    this.shared = new Float64Array(this.width);
    this.sums = new Float64Array(this.width);
    this.varying = new Int32Array(fields);
    this.at = new Int32Array(fields);
    const widest = Math.max(0, ...sizes);
    this.activations = [new Float64Array(widest), new Float64Array(widest)];
  }

  /**
   * One logit per row of `rows` ([n, F] table rows in schema field order, as `CtrModel.encode` gives
   * them), written to `into` when given. A field whose row is the same on every row (a request's user
   * and profile fields) is summed once, not per row. Rows are scored one at a time, so that a row's
   * numbers stay in a few small buffers.
   */
  logits(rows: Int32Array, n: number, into: Float32Array = new Float32Array(n)): Float32Array {
    const fields = this.fieldStart.length;
    if (rows.length !== n * fields) throw new Error(`expected ${n} rows of ${fields} fields, got ${rows.length} table rows`);
    if (into.length !== n) throw new Error(`expected an output of ${n} logits, got ${into.length}`);
    const { tabled, width, layers, shared, sums, varying, at, mlp, mlpHead, firstBias, crossConstant, logitConstant, fieldStart } = this;
    shared.fill(0);
    for (let j = 0; j < firstBias.length; j++) shared[layers + 1 + j] = firstBias[j];
    let nVarying = 0;
    for (let f = 0; f < fields; f++) {
      const first = rows[f];
      let same = true;
      for (let r = 1; r < n && same; r++) same = rows[r * fields + f] === first;
      if (!same) varying[nVarying++] = f;
      else {
        const start = (fieldStart[f] + first) * width;
        for (let j = 0; j < width; j++) shared[j] += tabled[start + j];
      }
    }
    const first = firstBias.length;
    let [h, next] = this.activations;
    for (let r = 0; r < n; r++) {
      for (let v = 0; v < nVarying; v++) at[v] = (fieldStart[varying[v]] + rows[r * fields + varying[v]]) * width;
      for (let j = 0; j < width; j++) {
        let sum = shared[j];
        for (let v = 0; v < nVarying; v++) sum += tabled[at[v] + j];
        sums[j] = sum;
      }
      let alpha = 1;
      for (let l = 0; l < layers; l++) alpha = alpha * (1 + sums[l]) + crossConstant[l];
      let logit = logitConstant + alpha * sums[layers];
      if (first > 0) {
        for (let j = 0; j < first; j++) {
          const x = sums[layers + 1 + j];
          h[j] = x > 0 ? x : 0;
        }
        let inputs = first;
        for (const layer of mlp) {
          denseRelu(h, inputs, layer.transposed, layer.bias, next);
          [h, next] = [next, h];
          inputs = layer.bias.length;
        }
        for (let j = 0; j < inputs; j++) logit += h[j] * mlpHead[j];
      }
      into[r] = logit;
    }
    return into;
  }
}

/**
 * `out = relu(x W + bias)` for `x` of `inputs` numbers and W given transposed ([outputs, inputs]).
 * Eight outputs are summed at once: one sum at a time waits on each addition before the next (about
 * half the speed, on the demo's 16 x 16 layer); eight in flight share each read of x.
 */
function denseRelu(x: Float64Array, inputs: number, transposed: Float64Array, bias: Float64Array, out: Float64Array): void {
  const outputs = bias.length;
  let o = 0;
  for (; o + 8 <= outputs; o += 8) {
    const w = o * inputs;
    let s0 = bias[o];
    let s1 = bias[o + 1];
    let s2 = bias[o + 2];
    let s3 = bias[o + 3];
    let s4 = bias[o + 4];
    let s5 = bias[o + 5];
    let s6 = bias[o + 6];
    let s7 = bias[o + 7];
    for (let j = 0; j < inputs; j++) {
      const v = x[j];
      s0 += v * transposed[w + j];
      s1 += v * transposed[w + inputs + j];
      s2 += v * transposed[w + 2 * inputs + j];
      s3 += v * transposed[w + 3 * inputs + j];
      s4 += v * transposed[w + 4 * inputs + j];
      s5 += v * transposed[w + 5 * inputs + j];
      s6 += v * transposed[w + 6 * inputs + j];
      s7 += v * transposed[w + 7 * inputs + j];
    }
    out[o] = s0 > 0 ? s0 : 0;
    out[o + 1] = s1 > 0 ? s1 : 0;
    out[o + 2] = s2 > 0 ? s2 : 0;
    out[o + 3] = s3 > 0 ? s3 : 0;
    out[o + 4] = s4 > 0 ? s4 : 0;
    out[o + 5] = s5 > 0 ? s5 : 0;
    out[o + 6] = s6 > 0 ? s6 : 0;
    out[o + 7] = s7 > 0 ? s7 : 0;
  }
  for (; o < outputs; o++) {
    const w = o * inputs;
    let sum = bias[o];
    for (let j = 0; j < inputs; j++) sum += x[j] * transposed[w + j];
    out[o] = sum > 0 ? sum : 0;
  }
}
