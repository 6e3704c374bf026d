/**
 * DCN (v1, no dense fields) scored in this thread with most of its arithmetic done once, when the
 * model is loaded, instead of on every row.
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
 * A row then costs F table reads of (first MLP width + layers + 1) numbers, the MLP's later layers
 * and the head. Sums run in float32, as ORT's do (the cross network's scalars in float64); the
 * result agrees with ORT's to float rounding.
 *
 * The row loop is WebAssembly (factored.wat) on four-lane float32 SIMD, on tables kept in its
 * memory: a request's hundred rows took 27-34 µs in plain TypeScript, 10-12 µs in two-lane float64
 * SIMD (44-51 and 24-25 µs with caches disturbed between calls). With caches disturbed, a pass that
 * first touches every row's table rows brought that to 14-15 µs: their misses overlap. Four lanes
 * of float32 instead of two of float64 halve the arithmetic: encoding, forward and sigmoid of a
 * request went from 11.7-12 to 7.2-7.9 µs (16.8-20.5 to 12.1-13 µs with caches disturbed). This
 * file lays the memory out and does the per-request part that is not per row: the fields every row
 * shares, summed once.
 */
import { reserveMemory, wasmModule } from '../engine/index.js';
import type { CtrModel } from './model.js';

const EMBEDDINGS = 'factor';
/** The kernel, built from factored.wat next to this file's compiled form. */
const KERNEL = new URL('./factored.wasm', import.meta.url);
/** MLP widths are padded to this (the kernel sums 16 outputs at a time); table rows to 4 floats (one SIMD load). */
const OUTPUT_BLOCK = 16;

interface Kernel {
  memory: WebAssembly.Memory;
  layout(...addresses: number[]): void;
  logits(n: number, varying: number, offsetsAt: number, outAt: number, last: number, logitConstant: number): void;
}

const roundUp = (x: number, to: number) => Math.ceil(x / to) * to;

export class FactoredDcn {
  private readonly kernel: Kernel;
  /** Numbers per table row: the first MLP layer's part (padded), x0·w_l per cross layer, x0·h (the head's cross part), padding. */
  private readonly stride: number;
  /** The first MLP layer's width, and that padded to OUTPUT_BLOCK. */
  private readonly first: number;
  private readonly firstPadded: number;
  private readonly layers: number;
  /** The MLP's output width, padded to 4 (the head's SIMD quads). */
  private readonly last: number;
  /** Where each field's rows start in the table, in rows. */
  private readonly fieldStart: Int32Array;
  /** β_L · h plus the head's bias. */
  private readonly logitConstant: number;
  private readonly firstBias: Float64Array;
  /** The shared fields' sums, in float64 until they are handed to the kernel. */
  private readonly sharedSums: Float64Array;
  /** Numbers in the table. */
  private readonly tableLength: number;
  /** Byte addresses in the kernel's memory: the shared sums; then, at its end (grown with the largest request), the rows' table addresses (from requestAt) and the logits (from outAt). */
  private readonly sharedAt: number;
  private readonly requestAt: number;
  private outAt = 0;
  private capacity = 0;
  /** Views of the kernel's memory, made again when it grows. */
  private table!: Float32Array;
  /** The float32 constants and scratch (weights, biases, the shared sums); the cross network's float64 constants are written once, in the constructor. */
  private floats!: Float32Array;
  private offsets!: Int32Array;
  private out!: Float32Array;
  /** The fields whose rows vary over a request's rows. */
  private readonly varying: Int32Array;

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
    this.first = sizes.length > 0 ? sizes[0] : 0;
    this.firstPadded = roundUp(this.first, OUTPUT_BLOCK);
    this.stride = roundUp(this.firstPadded + this.layers + 1, 4);
    this.last = roundUp(sizes.length > 0 ? sizes[sizes.length - 1] : 0, 4);
    const head = param('head.weight');
    const cross = Array.from({ length: this.layers }, (_, l) => ({ weight: param(`cross.${l}.weight`), bias: param(`cross.${l}.bias`) }));
    const w1 = this.first > 0 ? param('mlp.0.weight') : new Float32Array(0);

    this.fieldStart = new Int32Array(fields);
    for (let f = 1; f < fields; f++) this.fieldStart[f] = this.fieldStart[f - 1] + schema.sparse[f - 1].vocabSize + 1;
    const rows = this.fieldStart[fields - 1] + schema.sparse[fields - 1].vocabSize + 1;

    // The kernel's memory: the table (float32, the weights' own precision), then constants and
    // scratch (float32 but for the cross network's float64 scalars), each 16-byte aligned.
    this.tableLength = rows * this.stride;
    let end = roundUp(this.tableLength * 4, 16);
    const take = (numbers: number, bytes = 4) => {
      const at = end;
      end = roundUp(end + numbers * bytes, 16);
      return at;
    };
    this.sharedAt = take(this.stride);
    const sumsAt = take(this.stride);
    const crossAt = take(this.layers, 8);
    const layerTableAt = take(4 * Math.max(0, sizes.length - 1));
    const later = sizes.slice(1).map((outputs, i) => {
      const inputs = sizes[i];
      const padded = roundUp(outputs, OUTPUT_BLOCK);
      return { inputs, outputs, padded, weightsAt: take(inputs * padded), biasAt: take(padded) };
    });
    const headAt = take(this.last);
    const widest = Math.max(this.firstPadded, ...later.map((l) => l.padded));
    const act0 = take(widest);
    const act1 = take(widest);
    this.requestAt = end;
    this.kernel = new WebAssembly.Instance(wasmModule(KERNEL)).exports as unknown as Kernel;
    this.reserve(0);

    const products = new Float64Array(this.stride);
    for (let f = 0; f < fields; f++) {
      const table = tables[f];
      for (let row = 0; row <= schema.sparse[f].vocabSize; row++) {
        products.fill(0);
        for (let c = 0; c < k; c++) {
          const e = table[row * k + c];
          const at = f * k + c;
          for (let j = 0; j < this.first; j++) products[j] += e * w1[at * this.first + j];
          for (let l = 0; l < this.layers; l++) products[this.firstPadded + l] += e * cross[l].weight[at];
          products[this.firstPadded + this.layers] += e * head[at];
        }
        this.table.set(products, (this.fieldStart[f] + row) * this.stride);
      }
    }

    const beta = new Float64Array(d);
    const crossConstants = new Float64Array(this.kernel.memory.buffer, crossAt, this.layers);
    for (let l = 0; l < this.layers; l++) {
      let constant = 0;
      for (let i = 0; i < d; i++) constant += beta[i] * cross[l].weight[i];
      crossConstants[l] = constant;
      for (let i = 0; i < d; i++) beta[i] += cross[l].bias[i];
    }
    let constant = param('head.bias')[0];
    for (let i = 0; i < d; i++) constant += beta[i] * head[i];
    this.logitConstant = constant;

    this.firstBias = this.first > 0 ? Float64Array.from(param('mlp.0.bias')) : new Float64Array(0);
    // Later layers' weights as [inputs][outputs padded]: an input's weights on 16 outputs side by side.
    later.forEach((layer, i) => {
      const weight = param(`mlp.${i + 1}.weight`);
      for (let j = 0; j < layer.inputs; j++) for (let o = 0; o < layer.outputs; o++) this.floats[layer.weightsAt / 4 + j * layer.padded + o] = weight[j * layer.outputs + o];
      this.floats.set(param(`mlp.${i + 1}.bias`), layer.biasAt / 4);
      new Int32Array(this.kernel.memory.buffer, layerTableAt + 16 * i, 4).set([layer.inputs, layer.padded, layer.weightsAt, layer.biasAt]);
    });
    this.floats.set(head.subarray(d), headAt / 4);
    this.varying = new Int32Array(fields);
    this.sharedSums = new Float64Array(this.stride);
    this.kernel.layout(this.stride, this.firstPadded, this.layers, this.sharedAt, crossAt, later.length, layerTableAt, headAt, sumsAt, act0, act1);
  }

  /**
   * One logit per row of `rows` ([n, F] table rows in schema field order, as `CtrModel.encode` gives
   * them), written to `into` when given. A field whose row is the same on every row (a request's user
   * and profile fields) is summed once, not per row.
   */
  logits(rows: Int32Array, n: number, into: Float32Array = new Float32Array(n)): Float32Array {
    const fields = this.fieldStart.length;
    if (rows.length !== n * fields) throw new Error(`expected ${n} rows of ${fields} fields, got ${rows.length} table rows`);
    if (into.length !== n) throw new Error(`expected an output of ${n} logits, got ${into.length}`);
    if (n > this.capacity) this.reserve(n);
    const { table, sharedSums, stride, varying, fieldStart, offsets } = this;
    sharedSums.fill(0);
    sharedSums.set(this.firstBias);
    let nVarying = 0;
    for (let f = 0; f < fields; f++) {
      const first = rows[f];
      let same = true;
      for (let r = 1; r < n && same; r++) same = rows[r * fields + f] === first;
      if (!same) varying[nVarying++] = f;
      else {
        const start = (fieldStart[f] + first) * stride;
        for (let j = 0; j < stride; j++) sharedSums[j] += table[start + j];
      }
    }
    this.floats.set(sharedSums, this.sharedAt / 4);
    // Each row's varying fields, as byte addresses of their table rows.
    for (let r = 0; r < n; r++) for (let v = 0; v < nVarying; v++) offsets[r * nVarying + v] = (fieldStart[varying[v]] + rows[r * fields + varying[v]]) * stride * 4;
    this.kernel.logits(n, nVarying, this.requestAt, this.outAt, this.last, this.logitConstant);
    into.set(this.out.subarray(0, n));
    return into;
  }

  /** Room at the end of the memory for requests of `n` rows, and views of the memory as it then is (growing it detaches the old ones). */
  private reserve(n: number): void {
    const fields = this.fieldStart.length;
    this.outAt = roundUp(this.requestAt + n * fields * 4, 16);
    const needed = this.outAt + n * 4;
    const { memory } = this.kernel;
    reserveMemory(memory, needed);
    this.capacity = n;
    this.table = new Float32Array(memory.buffer, 0, this.tableLength);
    this.floats = new Float32Array(memory.buffer, 0, this.requestAt / 4);
    this.offsets = new Int32Array(memory.buffer, this.requestAt, n * fields);
    this.out = new Float32Array(memory.buffer, this.outAt, n);
  }
}
