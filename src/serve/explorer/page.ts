/// <reference lib="dom" />
/**
 * The explorer page's script (runs in the browser, served compiled from /ui/). Four views, chosen by
 * the URL hash: #codebooks, #user/<id>, #report, #tuning. Charts use the same ECharts options as the
 * report's SVG files; ECharts itself is loaded by a <script> tag from this server.
 */
import type * as ECharts from 'echarts';
import { aucChart, curvesChart, tuningChart, usageChart, type AucRow, type Chart, type CurveRun, type TuneEpoch } from '../../charts/options.js';
import type { CodebooksView, ReportView, UserView } from './views.js';

declare const echarts: typeof ECharts;

type Child = Node | string | number | null | undefined;

function el(tag: string, attributes: Record<string, string> = {}, ...children: Child[]): HTMLElement {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  return node;
}

function table(head: string[], rows: Child[][], rowAttributes: (i: number) => Record<string, string> = () => ({})): HTMLElement {
  return el(
    'table',
    {},
    el('thead', {}, el('tr', {}, ...head.map((h) => el('th', {}, h)))),
    el('tbody', {}, ...rows.map((cells, i) => el('tr', rowAttributes(i), ...cells.map((c) => el('td', typeof c === 'number' ? { class: 'num' } : {}, c))))),
  );
}

const note = (text: string) => el('p', { class: 'note' }, text);
const fixed = (x: unknown, digits = 4) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
const isRecord = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);
const records = (x: unknown): Record<string, unknown>[] => (Array.isArray(x) ? x.filter(isRecord) : []);

/** Charts made for the view being built, drawn once it is in the document (`drawCharts`). */
const undrawn: (() => void)[] = [];

/** A box for a chart (SVG renderer, like the report files) at its laid-out size. */
function chart(spec: Chart): HTMLElement {
  const canvas = el('div', { style: `width:${spec.width}px;height:${spec.height}px` });
  undrawn.push(() => echarts.init(canvas, undefined, { renderer: 'svg' }).setOption(spec.option));
  return el('div', { class: 'chart' }, canvas);
}

function drawCharts(): void {
  for (const draw of undrawn.splice(0)) draw();
}

async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as T };
}

async function showCodebooks(section: HTMLElement): Promise<void> {
  const { body: view } = await getJson<CodebooksView>('/v1/codebooks');
  document.getElementById('run')!.textContent = `run ${view.run} · LM ${view.lm}`;
  const parts: Node[] = [el('h2', {}, 'Codebooks: users per code')];
  if (!view.explained) parts.push(note(`No explain.json in ${view.run}: run \`userip profile explain --run ${view.run}\` for each code's attribute lift and the LM's reading.`));
  parts.push(chart(usageChart(view.slots.map((s) => ({ slot: s.slot, k: s.k, counts: s.codes.map((c) => c.users), perplexity: s.perplexity ?? NaN })))));
  for (const slot of view.slots) {
    const most = Math.max(1, ...slot.codes.map((c) => c.users));
    parts.push(el('h2', {}, `Slot ${slot.slot}`, el('span', { class: 'muted' }, ` — “${slot.text} …”, k=${slot.k}${slot.perplexity !== null ? `, perplexity ${fixed(slot.perplexity, 2)}` : ''}${slot.dead_codes !== null ? `, dead codes ${slot.dead_codes}` : ''}`)));
    parts.push(
      table(
        ['code', 'users', 'attributes over-represented (lift, share)', "LM's words", 'after the behaviour prefix', "LM's greedy text"],
        slot.codes.map((c) => [
          el('span', { class: 'code' }, c.code),
          el('span', {}, el('span', { class: 'bar', style: `width:${Math.round((80 * c.users) / most)}px` }), c.users),
          c.top.map((t) => `${t.attribute} ×${fixed(t.lift, 2)} (${(t.share * 100).toFixed(0)}%)`).join('; ') || el('span', { class: 'muted' }, '—'),
          c.words.join(', ') || el('span', { class: 'muted' }, '—'),
          c.behaviour_words.join(', ') || el('span', { class: 'muted' }, '—'),
          c.continuation ?? el('span', { class: 'muted' }, '—'),
        ]),
        (i) => ({ 'data-testid': 'code', 'data-slot': slot.slot, 'data-code': String(slot.codes[i].code) }),
      ),
    );
  }
  section.replaceChildren(...parts);
}

async function showUser(result: HTMLElement, user: string): Promise<void> {
  result.replaceChildren(el('p', { class: 'muted' }, `loading ${user} …`));
  const { status, body } = await getJson<UserView & { message?: string }>(`/v1/users/${encodeURIComponent(user)}`);
  if (status !== 200) {
    result.replaceChildren(note(body.message ?? `HTTP ${status}`));
    return;
  }
  const userLink = (id: string) => el('a', { href: `#user/${encodeURIComponent(id)}` }, id);
  const parts: Node[] = [
    el('h2', {}, `User ${body.user}`, el('span', { class: 'muted' }, body.source ? ` — profile ${body.source}` : ' — no profile in the feature bank')),
    el('div', { id: 'user-codes' }, ...body.slots.flatMap((s) => [el('span', {}, `${s.name} `), el('span', { class: 'code', 'data-slot': s.name }, s.id), '   '])),
    el('h2', {}, 'Last behaviour (training split, newest first)'),
    body.behaviour.length
      ? table(['when', 'item', 'rating'], body.behaviour.map((b) => [new Date(b.timestamp * 1000).toISOString().slice(0, 10), b.text, b.rating]))
      : note('No behaviour lines (no prepared data, or no training interactions).'),
    el('h2', {}, 'Nearest users by soft token (cosine)'),
    body.neighbours.length
      ? table(['user', 'similarity', 'codes'], body.neighbours.map((n) => [userLink(n.user), fixed(n.similarity, 3), n.ids.join(' · ')]))
      : note('This user has no soft tokens in the tune run (added to the bank later).'),
    el('h2', {}, 'Top-scored items'),
    body.top_items === null
      ? note('No CTR model loaded (`userip serve --model DIR` scores items).')
      : table(['item', '', 'click probability'], body.top_items.map((t) => [t.item, t.text, fixed(t.probability)])),
  ];
  result.replaceChildren(...parts);
}

/** A value from a JSON file shown as text: numbers rounded, objects as compact JSON. */
function shown(value: unknown): string {
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : fixed(value);
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** Key/value rows of an object of unknown shape (one level deep). */
const keyValues = (object: Record<string, unknown>) => table(['name', 'value'], Object.entries(object).map(([k, v]) => [k, shown(v)]));

async function showReport(section: HTMLElement): Promise<void> {
  const { body } = await getJson<ReportView>('/v1/report');
  const parts: Node[] = [el('h2', {}, 'CTR comparison')];
  const report = body.comparison?.report;
  if (!report) parts.push(note('No report.json found: run `userip eval compare --out DIR` and pass --report DIR.'));
  else {
    const rows = records(report.ctr).filter((r): r is Record<string, unknown> & AucRow => typeof r.features === 'string' && typeof r.protocol === 'string' && typeof r.auc_mean === 'number');
    const runs = records(report.runs).filter((r): r is Record<string, unknown> & CurveRun => typeof r.features === 'string' && Array.isArray(r.valid_auc));
    parts.push(el('p', { class: 'muted' }, `${body.comparison!.path} · dataset ${shown(report.dataset)}`));
    if (rows.length) {
      parts.push(chart(aucChart(rows, String(report.dataset ?? ''))));
      parts.push(
        table(
          ['model', 'protocol', 'features', 'seeds', 'AUC', 'Logloss', 'gAUC', 'ΔAUC vs id', 'verdict'],
          rows.map((r) => {
            const vs = isRecord(r.vs_id) && isRecord(r.vs_id.auc) ? r.vs_id.auc : undefined;
            return [String(r.model ?? 'dcn'), r.protocol, r.features, r.seeds, `${fixed(r.auc_mean)} ± ${fixed(r.auc_std)}`, `${fixed(r.logloss_mean)} ± ${fixed(r.logloss_std)}`, `${fixed(r.gauc_mean)} ± ${fixed(r.gauc_std)}`, vs ? fixed(vs.mean_diff) : '', vs ? String(vs.verdict ?? '') : ''];
          }),
        ),
      );
    }
    if (runs.length) parts.push(el('h2', {}, 'Training curves'), chart(curvesChart(runs)));
  }
  parts.push(el('h2', {}, 'Tune diagnostics'));
  const diagnostics = body.tuning?.tune.diagnostics;
  parts.push(isRecord(diagnostics) ? keyValues(diagnostics) : note(body.tuning ? `No diagnostics in ${body.tuning.path}.` : 'No tune.json in the run.'));
  section.replaceChildren(...parts);
}

async function showTuning(section: HTMLElement): Promise<void> {
  const { body } = await getJson<ReportView>('/v1/report');
  if (!body.tuning) {
    section.replaceChildren(note('No tune.json in the run.'));
    return;
  }
  const tune = body.tuning.tune;
  const history = records(tune.history).filter((e): e is Record<string, unknown> & TuneEpoch => typeof e.round === 'number' || typeof e.epoch === 'number');
  const scalars = Object.fromEntries(Object.entries(tune).filter(([, v]) => !isRecord(v) && !Array.isArray(v)));
  section.replaceChildren(
    el('h2', {}, 'Profile tuning'),
    el('p', { class: 'muted' }, body.tuning.path),
    history.length ? chart(tuningChart(history, typeof tune.val_nll_start === 'number' ? tune.val_nll_start : undefined)) : note('tune.json has no per-round history.'),
    history.length ? table(Object.keys(history[0]), history.map((e) => Object.values(e).map(shown))) : '',
    el('h2', {}, 'Summary'),
    keyValues(scalars),
  );
}

const VIEWS = ['codebooks', 'user', 'report', 'tuning'] as const;
type View = (typeof VIEWS)[number];

async function route(): Promise<void> {
  const [name, ...rest] = location.hash.replace(/^#/, '').split('/');
  const view: View = (VIEWS as readonly string[]).includes(name) ? (name as View) : 'codebooks';
  for (const v of VIEWS) document.getElementById(`view-${v}`)!.hidden = v !== view;
  document.querySelectorAll('nav button').forEach((b) => b.classList.toggle('active', (b as HTMLElement).dataset.view === view));
  const section = document.getElementById(`view-${view}`)!;
  section.dataset.state = 'loading';
  if (view === 'codebooks') await showCodebooks(section);
  else if (view === 'report') await showReport(section);
  else if (view === 'tuning') await showTuning(section);
  else {
    const user = decodeURIComponent(rest.join('/'));
    (document.getElementById('user-id') as HTMLInputElement).value = user;
    if (user) await showUser(document.getElementById('user-result')!, user);
  }
  drawCharts();
  section.dataset.state = 'ready';
}

const run = () => route().catch((error: unknown) => document.querySelector('main')!.prepend(note(`error: ${(error as Error).message}`)));

/** Shows a view; its section reads data-state="loading" until the view is drawn (what the browser test waits on). */
function go(hash: string): void {
  document.getElementById(`view-${hash.split('/')[0]}`)!.dataset.state = 'loading';
  if (location.hash === `#${hash}`) void run();
  else location.hash = hash;
}

document.querySelectorAll('nav button').forEach((b) => b.addEventListener('click', () => go((b as HTMLElement).dataset.view!)));
document.getElementById('user-form')!.addEventListener('submit', (event) => {
  event.preventDefault();
  go(`user/${encodeURIComponent((document.getElementById('user-id') as HTMLInputElement).value.trim())}`);
});
window.addEventListener('hashchange', run);
void run();
