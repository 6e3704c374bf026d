/**
 * The project's charts as ECharts options. The explorer page draws them in the browser and the
 * report's SVG files render them in Node (`renderSvg`), so a plot looks the same in both places.
 *
 * This module runs in the browser as it is compiled (the explorer serves it): it imports types only
 * and touches no Node or DOM API.
 */
import type { EChartsOption } from 'echarts';

/** A chart and the size it is laid out for. */
export interface Chart {
  option: EChartsOption;
  width: number;
  height: number;
}

/** Colour-blind-safe (Paul Tol's "bright"), so a series keeps its colour across panels and plots. */
const PALETTE = ['#4477aa', '#ee6677', '#228833', '#ccbb44', '#66ccee', '#aa3377', '#bbbbbb'];
const PANEL = { width: 380, height: 260, left: 62, right: 16, top: 34, bottom: 66 };
const PAGE_TOP = 36;
const LEGEND_HEIGHT = 30;
const MAX_COLUMNS = 3;

export interface BarSeries {
  name: string;
  /** One value per category; null leaves the slot empty. */
  values: (number | null)[];
  /** Half-length of each error bar (e.g. one standard deviation); null or absent: none. */
  errors?: (number | null)[];
}

export interface BarPanel {
  title: string;
  categories: string[];
  series: BarSeries[];
}

export interface LinePanel {
  title: string;
  series: { name: string; points: [number, number][] }[];
}

interface Axes {
  xName?: string;
  yName: string;
  /** Start the y axis at zero (counts); otherwise it hugs the data (AUCs differ in the third decimal). */
  zero?: boolean;
}

const finite = (x: number | null | undefined): x is number => typeof x === 'number' && Number.isFinite(x);
const round = (x: number) => Number(x.toPrecision(4));

/** Panels in rows of up to three under one title, with one legend for all of them. */
function layout(title: string, panelCount: number, legend: string[]) {
  const columns = Math.max(1, Math.min(MAX_COLUMNS, panelCount));
  const rows = Math.max(1, Math.ceil(panelCount / columns));
  const legendRows = legend.length ? Math.ceil(legend.length / 4) : 0;
  const width = columns * PANEL.width;
  const height = PAGE_TOP + rows * PANEL.height + legendRows * LEGEND_HEIGHT;
  const origin = (p: number) => ({ x: (p % columns) * PANEL.width, y: PAGE_TOP + Math.floor(p / columns) * PANEL.height });
  const grid = (p: number) => {
    const { x, y } = origin(p);
    return { left: x + PANEL.left, top: y + PANEL.top, width: PANEL.width - PANEL.left - PANEL.right, height: PANEL.height - PANEL.top - PANEL.bottom };
  };
  const titles = (panels: string[]) => [
    { text: title, left: 'center', top: 6, textStyle: { fontSize: 14 } },
    ...panels.map((text, p) => ({ text, left: origin(p).x + PANEL.width / 2, top: origin(p).y + 8, textAlign: 'center' as const, textStyle: { fontSize: 12 } })),
  ];
  const legendOption = legend.length ? { data: legend, bottom: 4, left: 'center', itemWidth: 14, itemHeight: 10, textStyle: { fontSize: 11 } } : undefined;
  /** What every chart's option shares: titles, legend, one grid per panel. */
  const base = (panelTitles: string[]) => ({
    animation: false,
    backgroundColor: '#fff',
    color: PALETTE,
    title: titles(panelTitles),
    legend: legendOption,
    grid: panelTitles.map((_, p) => grid(p)),
  });
  return { width, height, base };
}

/** Panel p's value axis: from zero, or around the data. */
function valueAxis(p: number, axes: Axes) {
  // `scale` lets ECharts fit round bounds around the data (error bars included, see `encode`).
  const range = axes.zero ? { min: 0 } : { scale: true };
  return { type: 'value' as const, gridIndex: p, name: axes.yName, nameLocation: 'middle' as const, nameGap: 46, nameTextStyle: { fontSize: 11 }, axisLabel: { fontSize: 10 }, ...range };
}

/**
 * One panel per entry; in each, one bar per category and series, side by side, with error bars. The
 * bars of a category fill 80% of its band with no gap, so an error bar knows where its bar is.
 */
export function barChart(title: string, panels: BarPanel[], axes: Axes): Chart {
  // Long labels (feature set names) are turned so they do not overlap.
  const rotated = (panel: BarPanel) => panel.categories.some((c) => c.length > 3) && panel.categories.length > 4;
  const names = [...new Set(panels.flatMap((p) => p.series.map((s) => s.name)))];
  const showLegend = names.length > 1;
  const frame = layout(title, panels.length, showLegend ? names : []);
  const series: NonNullable<EChartsOption['series']> = [];
  panels.forEach((panel, p) => {
    const count = panel.series.length;
    panel.series.forEach((s) => {
      const colour = PALETTE[names.indexOf(s.name) % PALETTE.length];
      const axis = { xAxisIndex: p, yAxisIndex: p };
      series.push({
        type: 'bar',
        name: s.name,
        ...axis,
        barGap: '0%',
        barCategoryGap: '20%',
        itemStyle: { color: colour },
        label: { show: panel.categories.length * count <= 12, position: 'top', fontSize: 9, formatter: (d: { value: unknown }) => (finite(d.value as number) ? String(round(d.value as number)) : '') },
        data: s.values.map((v) => (finite(v) ? v : null)),
      });
      const slot = panel.series.indexOf(s);
      const bars = s.values.flatMap((v, c) => (finite(v) && finite(s.errors?.[c]) ? [[c, v - s.errors![c]!, v + s.errors![c]!]] : []));
      if (bars.length === 0) return;
      series.push({
        type: 'custom',
        name: s.name,
        ...axis,
        z: 10,
        silent: true,
        data: bars,
        // Both ends of each error bar count towards the axis range.
        encode: { x: 0, y: [1, 2] },
        // The bar's centre within its category band: the band is split 10% / 80% of bars / 10%.
        renderItem: (_params, api) => {
          const band = (api.size!([1, 0]) as number[])[0];
          const dx = -0.4 * band + ((slot + 0.5) * 0.8 * band) / count;
          const [x, top] = api.coord([api.value(0), api.value(2)]);
          const [, bottom] = api.coord([api.value(0), api.value(1)]);
          const cx = x + dx;
          const cap = Math.min(5, (0.8 * band) / count / 3);
          const style = { stroke: '#222', lineWidth: 1.2 };
          return {
            type: 'group',
            children: [
              { type: 'line', shape: { x1: cx, y1: top, x2: cx, y2: bottom }, style },
              { type: 'line', shape: { x1: cx - cap, y1: top, x2: cx + cap, y2: top }, style },
              { type: 'line', shape: { x1: cx - cap, y1: bottom, x2: cx + cap, y2: bottom }, style },
            ],
          };
        },
      });
    });
  });
  return {
    width: frame.width,
    height: frame.height,
    option: {
      ...frame.base(panels.map((p) => p.title)),
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      xAxis: panels.map((panel, p) => ({ type: 'category', gridIndex: p, data: panel.categories, name: axes.xName, nameLocation: 'middle', nameGap: rotated(panel) ? 48 : 26, axisLabel: { rotate: rotated(panel) ? 30 : 0, fontSize: 10, interval: 0 } })),
      yAxis: panels.map((_, p) => valueAxis(p, axes)),
      series,
    },
  };
}

/** One panel per entry; series coloured by name across panels, with a dot per point. */
export function lineChart(title: string, panels: LinePanel[], axes: Axes): Chart {
  const names = [...new Set(panels.flatMap((p) => p.series.map((s) => s.name)))];
  const frame = layout(title, panels.length, names);
  return {
    width: frame.width,
    height: frame.height,
    option: {
      ...frame.base(panels.map((p) => p.title)),
      tooltip: { trigger: 'axis' },
      xAxis: panels.map((_, p) => ({ type: 'value', gridIndex: p, name: axes.xName, nameLocation: 'middle', nameGap: 26, minInterval: 1, axisLabel: { fontSize: 10 } })),
      yAxis: panels.map((_, p) => valueAxis(p, axes)),
      series: panels.flatMap((panel, p) =>
        panel.series.map((s) => ({
          type: 'line' as const,
          name: s.name,
          xAxisIndex: p,
          yAxisIndex: p,
          symbolSize: 5,
          itemStyle: { color: PALETTE[names.indexOf(s.name) % PALETTE.length] },
          data: s.points.filter(([x, y]) => finite(x) && finite(y)),
        })),
      ),
    },
  };
}

/** What the AUC plot needs of a report.json `ctr` row; `model` is absent in reports of one model. */
export interface AucRow {
  model?: string;
  features: string;
  protocol: string;
  seeds: number;
  auc_mean: number;
  auc_std: number;
}

const PROTOCOL_TITLE: Record<string, string> = { warm: 'warm (overall split)', cold: 'cold-start users' };
export const DEFAULT_MODEL = 'dcn';

/** Test AUC per feature set: one panel per protocol, one bar series per CTR model, mean ± std over seeds. */
export function aucChart(rows: readonly AucRow[], dataset: string): Chart {
  const protocols = [...new Set(rows.map((r) => r.protocol))];
  const models = [...new Set(rows.map((r) => r.model ?? DEFAULT_MODEL))];
  const seeds = Math.max(0, ...rows.map((r) => r.seeds));
  const panels = protocols.map((protocol) => {
    const own = rows.filter((r) => r.protocol === protocol);
    const categories = [...new Set(own.map((r) => r.features))];
    const series = models.map((model) => {
      const cell = (features: string) => own.find((r) => (r.model ?? DEFAULT_MODEL) === model && r.features === features);
      return { name: model, values: categories.map((f) => cell(f)?.auc_mean ?? null), errors: categories.map((f) => cell(f)?.auc_std ?? null) };
    });
    return { title: PROTOCOL_TITLE[protocol] ?? protocol, categories, series };
  });
  return barChart(`Test AUC, mean ± std over ${seeds} seed${seeds === 1 ? '' : 's'} (${dataset}; axis not from 0)`, panels, { yName: 'AUC' });
}

/** What the curves plot needs of a report.json `runs` entry. */
export interface CurveRun {
  model?: string;
  features: string;
  protocol: string;
  seed: number;
  valid_auc: number[];
}

/** Validation AUC per epoch for each feature set (and model, when there are several), first seed, one panel per protocol. */
export function curvesChart(runs: readonly CurveRun[]): Chart {
  const firstSeed = Math.min(...runs.map((r) => r.seed));
  const several = new Set(runs.map((r) => r.model ?? DEFAULT_MODEL)).size > 1;
  const protocols = [...new Set(runs.map((r) => r.protocol))];
  const panels = protocols.map((protocol) => ({
    title: protocol,
    series: runs
      .filter((r) => r.protocol === protocol && r.seed === firstSeed)
      .map((r) => ({ name: several ? `${r.model ?? DEFAULT_MODEL} ${r.features}` : r.features, points: r.valid_auc.map((a, i) => [i + 1, a] as [number, number]) })),
  }));
  return lineChart(`Validation AUC per epoch (seed ${Number.isFinite(firstSeed) ? firstSeed : 'none'})`, panels, { xName: 'epoch', yName: 'validation AUC' });
}

export interface CodebookUsage {
  slot: string;
  k: number;
  counts: number[];
  perplexity: number;
}

/** Users per code, one panel per slot. */
export function usageChart(codebooks: readonly CodebookUsage[]): Chart {
  const panels = codebooks.map((c) => ({
    title: `${c.slot} (k=${c.k}${finite(c.perplexity) ? `, perplexity ${c.perplexity.toFixed(2)}` : ''})`,
    categories: c.counts.map((_, code) => String(code)),
    series: [{ name: 'users', values: c.counts }],
  }));
  return barChart('Codebook usage: users per code', panels, { xName: 'code', yName: 'users', zero: true });
}

/** Per-round numbers of a tune run (EM rounds; older runs recorded epochs); entries may carry more fields. */
export interface TuneEpoch {
  round?: number;
  epoch?: number;
  val_nll?: number;
  train_loss?: number;
}

/** Validation NLL per token (and training loss, where recorded) per tuning epoch. */
export function tuningChart(history: readonly TuneEpoch[], start?: number): Chart {
  const at = (e: TuneEpoch, i: number) => e.round ?? e.epoch ?? i + 1;
  const valid: [number, number][] = history.flatMap((e, i) => (finite(e.val_nll) ? [[at(e, i), e.val_nll!] as [number, number]] : []));
  if (finite(start)) valid.unshift([0, start]);
  const train: [number, number][] = history.flatMap((e, i) => (finite(e.train_loss) ? [[at(e, i), e.train_loss!] as [number, number]] : []));
  const series = [{ name: 'validation NLL', points: valid }, ...(train.length ? [{ name: 'training loss', points: train }] : [])];
  return lineChart('Profile tuning: NLL per token by EM round', [{ title: 'round 0 = before tuning', series }], { xName: 'round', yName: 'nats per token' });
}
