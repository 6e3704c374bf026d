/**
 * What the explorer shows, read from a tune run (config.json, profiles.safetensors, tune.json,
 * explain.json), its prepared data, the feature bank and, where there is one, a comparison report.
 * Files other than the soft tokens are optional: what is missing is listed in `notes` and left out
 * of the views.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FeatureBank } from '../../bank/index.js';
import { readJson } from '../../io/files.js';
import { loadPrepared, sortByTime, type Interaction, type ItemInfo } from '../../data/index.js';
import { readRunProfiles, type RunProfiles } from '../../profile/index.js';
import type { BehaviourLine, CodebooksView, CodeView, NeighbourView, ReportView, UserView } from './views.js';

/** Behaviour lines, neighbours and top items shown per user. */
const BEHAVIOUR_LINES = 10;
const NEIGHBOURS = 5;
const TOP_ITEMS = 10;

/** Scores candidate items for a user with the served CTR model. */
export interface ItemScoring {
  /** The model's catalog: the candidates. */
  items: readonly string[];
  score(user: string, items: readonly string[]): Promise<number[]>;
}

export interface ExplorerOptions {
  /** The `userip profile tune` output directory. */
  run: string;
  /** Prepared data (`userip data prepare`); default: the one the run was tuned on. */
  data?: string;
  /** Directory holding report.json (`userip eval compare --out`); default: the run's parent directory, then the run itself. */
  report?: string;
  /** The feature bank: users' codes as served. */
  bank: FeatureBank;
  /** With a CTR model: the user view lists the top-scored items. */
  scoring?: ItemScoring;
}

interface UserHistory {
  /** Training interactions, newest first. */
  recent: Interaction[];
  items: Set<string>;
}

export class Explorer {
  private constructor(
    private readonly options: ExplorerOptions,
    private readonly tuned: RunProfiles,
    private readonly codebookView: CodebooksView,
    private readonly history: Map<string, UserHistory>,
    private readonly catalog: ReadonlyMap<string, ItemInfo>,
    /** Per tuned user, the unit-length concatenation of their soft tokens. */
    private readonly directions: Float32Array,
    /** What could not be read, for the command to print. */
    readonly notes: string[],
  ) {}

  static async open(options: ExplorerOptions): Promise<Explorer> {
    const notes: string[] = [];
    const tuned = await readRunProfiles(options.run);
    const tune = await optionalJson(join(options.run, 'tune.json'), notes);
    const explain = await optionalJson(join(options.run, 'explain.json'), notes, `run \`userip profile explain --run ${options.run}\` for the codes' attribute lift and LM text`);
    const codebooks = await codebooksView(options, tuned, tune, explain);

    const data = options.data ?? tuned.config.data;
    const history = new Map<string, UserHistory>();
    let catalog: ReadonlyMap<string, ItemInfo> = new Map();
    if (existsSync(join(data, 'config.json'))) {
      const prepared = await loadPrepared(data);
      catalog = prepared.dataset.items;
      const byUser = new Map<string, Interaction[]>();
      for (const i of prepared.split.train) {
        const own = byUser.get(i.user);
        if (own) own.push(i);
        else byUser.set(i.user, [i]);
      }
      for (const [user, interactions] of byUser) {
        history.set(user, { recent: sortByTime(interactions).slice(-BEHAVIOUR_LINES).reverse(), items: new Set(interactions.map((i) => i.item)) });
      }
    } else notes.push(`no prepared data at ${data}: the user view shows no behaviour lines (give --data DIR)`);
    if (!options.scoring) notes.push('no CTR model: the user view shows no top-scored items');
    return new Explorer(options, tuned, codebooks, history, catalog, unitRows(tuned), notes);
  }

  codebooks(): CodebooksView {
    return this.codebookView;
  }

  /** The user's codes, behaviour, neighbours and top items; undefined for a user neither the bank nor the run knows. */
  async user(user: string): Promise<UserView | undefined> {
    const entry = await this.options.bank.get(user);
    const row = this.tuned.users.indexOf(user);
    if (!entry && row < 0) return undefined;
    const history = this.history.get(user);
    const ids = entry?.ids ?? [];
    return {
      user,
      source: entry?.source ?? null,
      slots: this.tuned.slots.map((s, j) => ({ name: s.name, id: ids[j] })).filter((s) => s.id !== undefined),
      behaviour: (history?.recent ?? []).map((i): BehaviourLine => ({ item: i.item, text: this.itemText(i.item), rating: i.rating, timestamp: i.timestamp })),
      neighbours: row < 0 ? [] : await this.neighbours(row),
      top_items: this.options.scoring ? await this.topItems(user, history?.items ?? new Set()) : null,
    };
  }

  /** report.json and tune.json as they are now (a rerun shows without a restart). */
  async report(): Promise<ReportView> {
    const reportDir = this.options.report ?? [dirname(this.options.run), this.options.run].find((dir) => existsSync(join(dir, 'report.json')));
    const reportPath = reportDir && join(reportDir, 'report.json');
    const tunePath = join(this.options.run, 'tune.json');
    const report = reportPath ? await optionalJson(reportPath, []) : undefined;
    const tune = await optionalJson(tunePath, []);
    return { comparison: report ? { path: reportPath!, report } : null, tuning: tune ? { path: tunePath, tune } : null };
  }

  private itemText(item: string): string {
    const info = this.catalog.get(item);
    if (!info) return item;
    const title = info.title ? `${info.title}${info.year !== undefined && !info.title.includes(`(${info.year})`) ? ` (${info.year})` : ''}` : item;
    return [title, [...(info.genres ?? []), ...(info.categories ?? [])].join(', '), info.brand].filter(Boolean).join('; ');
  }

  private async neighbours(row: number): Promise<NeighbourView[]> {
    const n = this.tuned.users.length;
    const width = this.directions.length / n;
    const me = this.directions.subarray(row * width, (row + 1) * width);
    const similarity = new Float64Array(n);
    for (let u = 0; u < n; u++) {
      let dot = 0;
      for (let d = 0; d < width; d++) dot += me[d] * this.directions[u * width + d];
      similarity[u] = u === row ? -Infinity : dot;
    }
    const nearest = Array.from(similarity.keys()).sort((a, b) => similarity[b] - similarity[a]).slice(0, Math.min(NEIGHBOURS, n - 1));
    const users = nearest.map((u) => this.tuned.users[u]);
    const entries = await this.options.bank.getMany(users);
    return nearest.map((u, i) => ({ user: users[i], similarity: similarity[u], ids: entries[i]?.ids ?? [] }));
  }

  private async topItems(user: string, seen: ReadonlySet<string>): Promise<UserView['top_items']> {
    const candidates = this.options.scoring!.items.filter((item) => !seen.has(item));
    if (candidates.length === 0) return [];
    const probabilities = await this.options.scoring!.score(user, candidates);
    return Array.from(probabilities.keys())
      .sort((a, b) => probabilities[b] - probabilities[a])
      .slice(0, TOP_ITEMS)
      .map((i) => ({ item: candidates[i], text: this.itemText(candidates[i]), probability: probabilities[i] }));
  }
}

async function optionalJson(path: string, notes: string[], hint = ''): Promise<Record<string, unknown> | undefined> {
  if (!existsSync(path)) {
    notes.push(`no ${path}${hint ? `: ${hint}` : ''}`);
    return undefined;
  }
  const value = await readJson<unknown>(path);
  // explain.json is an array of slots; the others are objects.
  return Array.isArray(value) ? { slots: value } : (value as Record<string, unknown>);
}

const record = (value: unknown): Record<string, unknown> => (value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {});
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const numberOrNull = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);
const words = (value: unknown): string[] => list(value).map((w) => String(record(w).word ?? w));

/** Per slot: users per code from the bank, perplexity from tune.json, lift and LM text from explain.json. */
async function codebooksView(options: ExplorerOptions, tuned: RunProfiles, tune: Record<string, unknown> | undefined, explain: Record<string, unknown> | undefined): Promise<CodebooksView> {
  const counts = tuned.codebooks.map((cb) => new Array<number>(cb.k).fill(0));
  for await (const entry of options.bank.users()) entry.ids.forEach((id, j) => counts[j] && id < counts[j].length && counts[j][id]++);
  const tuneSlots = list(tune?.codebooks).map(record);
  const explainSlots = list(explain?.slots).map(record);
  return {
    run: options.run,
    lm: typeof tune?.lm === 'string' ? tune.lm : tuned.config.lm,
    explained: explain !== undefined,
    slots: tuned.slots.map((slot, j) => {
      const summary = tuneSlots.find((s) => s.slot === slot.name) ?? {};
      const explained = list(explainSlots.find((s) => s.slot === slot.name)?.codes).map(record);
      const codes = counts[j].map((users, code): CodeView => {
        const e = explained.find((c) => c.code === code) ?? {};
        return {
          code,
          users,
          top: list(e.top).map(record).map((t) => ({ attribute: String(t.attribute), share: Number(t.share), lift: Number(t.lift) })),
          words: words(e.words),
          behaviour_words: words(e.behaviour_words),
          continuation: typeof e.continuation === 'string' ? e.continuation : null,
        };
      });
      return { slot: slot.name, text: slot.text, k: tuned.codebooks[j].k, perplexity: numberOrNull(summary.perplexity), dead_codes: numberOrNull(summary.dead_codes), codes };
    }),
  };
}

/** Each user's soft tokens (all slots, in order) scaled to unit length, for cosine similarity. */
function unitRows(tuned: RunProfiles): Float32Array {
  const n = tuned.users.length;
  const width = tuned.softTokens.length / Math.max(1, n);
  const out = Float32Array.from(tuned.softTokens);
  for (let u = 0; u < n; u++) {
    const row = out.subarray(u * width, (u + 1) * width);
    const norm = Math.sqrt(row.reduce((sum, x) => sum + x * x, 0)) || 1;
    for (let d = 0; d < width; d++) row[d] /= norm;
  }
  return out;
}
