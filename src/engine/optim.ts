/**
 * Optimizers over flat Float32Array parameters. They run on the main thread after the ONNX runtime
 * has returned gradients, and follow torch.optim's update equations so that hyperparameters and
 * results carry over from PyTorch.
 *
 * Arithmetic is done in double and rounded where torch materializes a float32 tensor (the moments,
 * the L2-augmented gradient, the decayed parameter, the parameter), so results agree with torch to
 * float32 rounding rather than bit for bit (torch also rounds after every intermediate op).
 */

/** A trainable tensor, flattened. State is keyed by `name`, so names must be stable across steps. */
export interface Param {
  name: string;
  data: Float32Array;
}

export type OptimizerKind = 'sgd' | 'adam' | 'adamw';

export interface SgdOptions {
  lr: number;
  momentum?: number;
  weightDecay?: number;
}

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export type SgdHyper = Required<SgdOptions>;
export type AdamHyper = Required<AdamOptions>;

/**
 * JSON-able bookkeeping for one parameter. A dense parameter has one step count; a sparsely updated
 * table has one per row, stored as the tensor `row_step:<name>`.
 */
export type ParamStateMeta = { mode: 'dense'; step: number } | { mode: 'rows'; rowWidth: number };

/**
 * Everything needed to resume exactly. All fields but `tensors` are JSON-able. Tensor keys are
 * `<slot>:<param name>` with slot one of `momentum_buffer` (SGD with momentum), `exp_avg`,
 * `exp_avg_sq` (Adam/AdamW), `row_step` (tables); slots contain no ':', so keys cannot collide.
 * Row step counts are stored as float32, exact up to 2^24 appearances of a row.
 */
export type OptimizerState = (
  | { kind: 'sgd'; hyper: SgdHyper }
  | { kind: 'adam' | 'adamw'; hyper: AdamHyper }
) & {
  params: Record<string, ParamStateMeta>;
  tensors: Record<string, Float32Array>;
};

interface DenseEntry {
  mode: 'dense';
  step: number;
  buffers: Float32Array[];
}

interface RowsEntry {
  mode: 'rows';
  rowWidth: number;
  rowStep: Int32Array;
  buffers: Float32Array[];
}

type Entry = DenseEntry | RowsEntry;

const MAX_EXACT_F32_INT = 2 ** 24;

export abstract class Optimizer {
  abstract readonly kind: OptimizerKind;
  /** Per-element state slots, in the order `update` receives them. */
  protected abstract readonly slots: readonly string[];
  private entries = new Map<string, Entry>();

  /** Mutable between steps so that learning-rate schedules can drive it. */
  constructor(public lr: number) {
    checkNonNegative('lr', lr);
  }

  /**
   * Update `slice` elements of `p` starting at `pOff` from `g` starting at `gOff`. `t` is the
   * 1-based step count of this slice (of the parameter when dense, of the row when sparse).
   */
  protected abstract update(
    p: Float32Array,
    g: Float32Array,
    pOff: number,
    gOff: number,
    slice: number,
    buffers: Float32Array[],
    t: number,
  ): void;

  protected abstract hyper(): SgdHyper | AdamHyper;

  /** Dense update of every parameter with its gradient (same order, same lengths). */
  step(params: readonly Param[], grads: readonly Float32Array[]): void {
    if (params.length !== grads.length) {
      throw new Error(`step: ${params.length} params but ${grads.length} grads`);
    }
    const names = new Set<string>();
    params.forEach((p, i) => {
      if (grads[i].length !== p.data.length) {
        throw new Error(`step: grad for ${p.name} has ${grads[i].length} elements, param has ${p.data.length}`);
      }
      if (names.has(p.name)) throw new Error(`step: parameter ${p.name} listed twice`);
      names.add(p.name);
      const e = this.entries.get(p.name);
      if (e && e.mode !== 'dense') throw new Error(`step: ${p.name} is updated with stepRows`);
      if (e && e.buffers.some((b) => b.length !== p.data.length)) {
        throw new Error(`step: ${p.name} has ${p.data.length} elements but its state has a different size`);
      }
    });
    params.forEach((p, i) => {
      let e = this.entries.get(p.name) as DenseEntry | undefined;
      if (!e) {
        e = { mode: 'dense', step: 0, buffers: this.slots.map(() => new Float32Array(p.data.length)) };
        this.entries.set(p.name, e);
      }
      e.step++;
      this.update(p.data, grads[i], 0, 0, p.data.length, e.buffers, e.step);
    });
  }

  /**
   * Sparse ("lazy") update of the listed rows of an embedding table. Only those rows, their moments
   * and their step counts change. Each row keeps its own step count for bias correction, so a row's
   * trajectory is exactly what dense `step` would give if the row were its own parameter stepped
   * only when it appears. (torch.optim.SparseAdam is also lazy but shares one step count per
   * table, which under-corrects rarely seen rows.) Weight decay likewise reaches only listed rows.
   *
   * `grads` holds `rows.length × rowWidth` values, row i of it being the gradient of `rows[i]`.
   * Row ids must be unique: callers sum the gradients of repeated ids first.
   */
  stepRows(table: Param, rowWidth: number, rows: Int32Array | readonly number[], grads: Float32Array): void {
    const n = table.data.length;
    if (!Number.isInteger(rowWidth) || rowWidth <= 0 || n % rowWidth !== 0) {
      throw new Error(`stepRows: row width ${rowWidth} does not divide ${table.name}'s ${n} elements`);
    }
    if (grads.length !== rows.length * rowWidth) {
      throw new Error(`stepRows: ${rows.length} rows of width ${rowWidth} need ${rows.length * rowWidth} grads, got ${grads.length}`);
    }
    const numRows = n / rowWidth;
    // Validate everything before touching anything, so a rejected call leaves no trace.
    const seen = new Set<number>();
    for (const r of rows) {
      if (!Number.isInteger(r) || r < 0 || r >= numRows) {
        throw new Error(`stepRows: row ${r} out of range for ${table.name} (${numRows} rows)`);
      }
      if (seen.has(r)) throw new Error(`stepRows: duplicate row ${r} for ${table.name}; sum its gradients first`);
      seen.add(r);
    }
    let e = this.entries.get(table.name);
    if (e && e.mode !== 'rows') throw new Error(`stepRows: ${table.name} is updated with dense step`);
    if (e && (e.rowWidth !== rowWidth || e.rowStep.length !== numRows)) {
      throw new Error(`stepRows: ${table.name} state is ${e.rowStep.length} rows × ${e.rowWidth}, not ${numRows} × ${rowWidth}`);
    }
    if (!e) {
      e = { mode: 'rows', rowWidth, rowStep: new Int32Array(numRows), buffers: this.slots.map(() => new Float32Array(n)) };
      this.entries.set(table.name, e);
    }
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      const t = ++e.rowStep[r];
      this.update(table.data, grads, r * rowWidth, i * rowWidth, rowWidth, e.buffers, t);
    }
  }

  /** A snapshot (copied, so training may continue while it is written out). */
  state(): OptimizerState {
    const params: Record<string, ParamStateMeta> = {};
    const tensors: Record<string, Float32Array> = {};
    for (const [name, e] of this.entries) {
      if (e.mode === 'dense') {
        params[name] = { mode: 'dense', step: e.step };
      } else {
        params[name] = { mode: 'rows', rowWidth: e.rowWidth };
        const steps = new Float32Array(e.rowStep.length);
        for (let r = 0; r < steps.length; r++) {
          if (e.rowStep[r] > MAX_EXACT_F32_INT) throw new Error(`state: row ${r} of ${name} has too many steps to store exactly`);
          steps[r] = e.rowStep[r];
        }
        tensors[`row_step:${name}`] = steps;
      }
      this.slots.forEach((s, k) => (tensors[`${s}:${name}`] = e.buffers[k].slice()));
    }
    return { kind: this.kind, hyper: this.hyper(), params, tensors } as OptimizerState;
  }

  /**
   * Replace all state with a snapshot from an optimizer of the same kind and hyperparameters (lr
   * excepted: it is restored, as torch's load_state_dict does; set `opt.lr` afterwards to override).
   * Use `optimizerFromState` to construct a matching optimizer. The input is copied.
   */
  loadState(state: OptimizerState): void {
    if (state.kind !== this.kind) throw new Error(`loadState: state is for ${state.kind}, optimizer is ${this.kind}`);
    const mine = this.hyper() as Record<string, number>;
    const theirs = state.hyper as Record<string, number>;
    for (const k of Object.keys(mine)) {
      if (k !== 'lr' && mine[k] !== theirs[k]) {
        throw new Error(`loadState: ${k} is ${theirs[k]} in the state but ${mine[k]} here`);
      }
    }
    checkNonNegative('lr', theirs.lr);
    const used = new Set<string>();
    const take = (key: string): Float32Array => {
      const t = state.tensors[key];
      if (!(t instanceof Float32Array)) throw new Error(`loadState: missing tensor ${key}`);
      used.add(key);
      return t.slice();
    };
    const entries = new Map<string, Entry>();
    for (const [name, meta] of Object.entries(state.params)) {
      const buffers = this.slots.map((s) => take(`${s}:${name}`));
      if (meta.mode === 'dense') {
        if (!Number.isInteger(meta.step) || meta.step < 0) throw new Error(`loadState: bad step ${meta.step} for ${name}`);
        if (buffers.some((b) => b.length !== buffers[0].length)) throw new Error(`loadState: slots of ${name} differ in size`);
        entries.set(name, { mode: 'dense', step: meta.step, buffers });
      } else {
        const steps = take(`row_step:${name}`);
        const rowWidth = meta.rowWidth;
        if (!Number.isInteger(rowWidth) || rowWidth <= 0 || buffers.some((b) => b.length !== steps.length * rowWidth)) {
          throw new Error(`loadState: slots of ${name} do not match ${steps.length} rows × ${rowWidth}`);
        }
        if (steps.some((s) => !Number.isInteger(s) || s < 0)) throw new Error(`loadState: bad row step count for ${name}`);
        entries.set(name, { mode: 'rows', rowWidth, rowStep: Int32Array.from(steps), buffers });
      }
    }
    const extra = Object.keys(state.tensors).filter((k) => !used.has(k));
    if (extra.length > 0) throw new Error(`loadState: unexpected tensors ${extra.join(', ')}`);
    this.entries = entries;
    this.lr = theirs.lr;
  }
}

/**
 * torch.optim.SGD (dampening 0, no Nesterov):
 *   g ← g + wd·p;  b ← g at the first step, else μ·b + g;  p ← p − lr·b   (b is g when μ = 0)
 * The buffer starts at zero, so μ·b + g is the first step's b ← g as well.
 */
export class Sgd extends Optimizer {
  readonly kind = 'sgd';
  readonly momentum: number;
  readonly weightDecay: number;
  protected readonly slots: readonly string[];

  constructor({ lr, momentum = 0, weightDecay = 0 }: SgdOptions) {
    super(lr);
    checkNonNegative('momentum', momentum);
    checkNonNegative('weightDecay', weightDecay);
    this.momentum = momentum;
    this.weightDecay = weightDecay;
    // torch keeps no buffer without momentum; neither do we (tables can be large).
    this.slots = momentum !== 0 ? ['momentum_buffer'] : [];
  }

  protected hyper(): SgdHyper {
    return { lr: this.lr, momentum: this.momentum, weightDecay: this.weightDecay };
  }

  protected update(p: Float32Array, g: Float32Array, pOff: number, gOff: number, slice: number, buffers: Float32Array[], _t: number): void {
    const { lr, momentum, weightDecay: wd } = this;
    const buf = buffers[0];
    for (let i = 0; i < slice; i++) {
      const j = pOff + i;
      let d = wd !== 0 ? Math.fround(g[gOff + i] + wd * p[j]) : g[gOff + i];
      if (momentum !== 0) {
        buf[j] = momentum * buf[j] + d;
        d = buf[j];
      }
      p[j] -= lr * d;
    }
  }
}

/**
 * torch.optim.Adam (amsgrad off). At step t (1-based):
 *   g ← g + wd·p                      (L2, Adam only)
 *   p ← p − lr·wd·p                   (decoupled decay, AdamW only, applied first)
 *   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
 *   p ← p − (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + ε)
 */
export class Adam extends Optimizer {
  readonly kind: 'adam' | 'adamw' = 'adam';
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  protected readonly slots: readonly string[] = ['exp_avg', 'exp_avg_sq'];

  constructor({ lr, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0 }: AdamOptions) {
    super(lr);
    if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
      throw new Error(`betas must be in [0, 1), got ${beta1}, ${beta2}`);
    }
    checkNonNegative('eps', eps);
    checkNonNegative('weightDecay', weightDecay);
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = weightDecay;
  }

  protected hyper(): AdamHyper {
    return { lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay };
  }

  protected update(p: Float32Array, g: Float32Array, pOff: number, gOff: number, slice: number, buffers: Float32Array[], t: number): void {
    const { lr, beta1, beta2, eps, weightDecay: wd } = this;
    const decoupled = this.kind === 'adamw';
    const [m, v] = buffers;
    const stepSize = lr / (1 - beta1 ** t);
    const bc2Sqrt = Math.sqrt(1 - beta2 ** t);
    const decay = 1 - lr * wd;
    for (let i = 0; i < slice; i++) {
      const j = pOff + i;
      let d = g[gOff + i];
      if (wd !== 0) {
        if (decoupled) p[j] *= decay;
        else d = Math.fround(d + wd * p[j]);
      }
      m[j] = beta1 * m[j] + (1 - beta1) * d;
      v[j] = beta2 * v[j] + (1 - beta2) * d * d;
      p[j] -= (stepSize * m[j]) / (Math.sqrt(v[j]) / bc2Sqrt + eps);
    }
  }
}

/** torch.optim.AdamW: Adam with decoupled weight decay (default 0.01) instead of L2. */
export class AdamW extends Adam {
  override readonly kind = 'adamw';

  constructor({ weightDecay = 0.01, ...rest }: AdamOptions) {
    super({ ...rest, weightDecay });
  }
}

/** Build the optimizer a snapshot came from, with its state loaded. */
export function optimizerFromState(state: OptimizerState): Optimizer {
  const opt =
    state.kind === 'sgd' ? new Sgd(state.hyper) : state.kind === 'adam' ? new Adam(state.hyper) : new AdamW(state.hyper);
  opt.loadState(state);
  return opt;
}

/**
 * torch.nn.utils.clip_grad_norm_ (L2 norm over all gradients together): scales every gradient in
 * place by min(1, maxNorm / (norm + 1e-6)) and returns the norm before clipping. As in torch by
 * default, a non-finite norm is not an error and propagates into the gradients.
 */
export function clipGradNorm(grads: readonly Float32Array[], maxNorm: number): number {
  if (!(maxNorm > 0)) throw new Error(`clipGradNorm: maxNorm must be positive, got ${maxNorm}`);
  let sq = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
  const norm = Math.sqrt(sq);
  const coef = maxNorm / (norm + 1e-6);
  // Not `coef < 1` alone: a NaN coefficient must reach the gradients too, as in torch.
  if (!(coef >= 1)) for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= coef;
  return norm;
}

function checkNonNegative(name: string, x: number): void {
  if (!(x >= 0 && Number.isFinite(x))) throw new Error(`${name} must be a non-negative finite number, got ${x}`);
}
