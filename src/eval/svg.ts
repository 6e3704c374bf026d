/**
 * The report's plots as hand-written SVG: bar charts (optionally with error bars) and line charts,
 * each as side-by-side panels sharing a legend. No plotting dependency; the output opens in any
 * browser or image viewer.
 */

/** Colour-blind-safe (Paul Tol's "bright"), so a series keeps its colour across panels and plots. */
const PALETTE = ['#4477aa', '#ee6677', '#228833', '#ccbb44', '#66ccee', '#aa3377', '#bbbbbb'];
const PANEL = { width: 380, height: 270, left: 58, right: 14, top: 34, bottom: 64 };
const FONT = 'font-family="Helvetica, Arial, sans-serif"';

const colour = (i: number): string => PALETTE[i % PALETTE.length];

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const fmt = (x: number) => Number(x.toPrecision(6)).toString();

/** About `count` round tick values covering [lo, hi]. */
function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function text(x: number, y: number, body: string, attrs = ''): string {
  return `<text x="${fmt(x)}" y="${fmt(y)}" ${FONT} ${attrs}>${escapeXml(body)}</text>`;
}

/** Axis range with headroom; `zero` pins the lower end to 0 (counts), otherwise it hugs the data (AUCs differ in the third decimal). */
function yRange(values: number[], zero: boolean): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return [0, 1];
  let lo = zero ? 0 : Math.min(...finite);
  let hi = Math.max(...finite);
  const span = Math.max(hi - lo, Math.abs(hi) * 1e-3, 1e-6);
  hi += span * 0.12;
  if (!zero) lo -= span * 0.12;
  const ticks = niceTicks(lo, hi);
  return [Math.min(lo, ticks[0]), Math.max(hi, ticks[ticks.length - 1])];
}

interface Frame {
  x0: number;
  y0: number;
  w: number;
  h: number;
  y: (v: number) => number;
}

/** Panel title, y grid with tick labels, and axes; returns the plotting frame. */
function panelFrame(out: string[], offsetX: number, title: string, yLabel: string, [lo, hi]: [number, number]): Frame {
  const x0 = offsetX + PANEL.left;
  const y0 = PANEL.top;
  const w = PANEL.width - PANEL.left - PANEL.right;
  const h = PANEL.height - PANEL.top - PANEL.bottom;
  const y = (v: number) => y0 + h - ((v - lo) / (hi - lo)) * h;
  out.push(text(offsetX + PANEL.width / 2, 20, title, 'font-size="13" font-weight="bold" text-anchor="middle"'));
  for (const t of niceTicks(lo, hi)) {
    out.push(`<line x1="${fmt(x0)}" y1="${fmt(y(t))}" x2="${fmt(x0 + w)}" y2="${fmt(y(t))}" stroke="#e5e5e5"/>`);
    out.push(text(x0 - 5, y(t) + 3.5, fmt(t), 'font-size="10" text-anchor="end"'));
  }
  out.push(`<line x1="${fmt(x0)}" y1="${fmt(y0)}" x2="${fmt(x0)}" y2="${fmt(y0 + h)}" stroke="#333"/>`);
  out.push(`<line x1="${fmt(x0)}" y1="${fmt(y0 + h)}" x2="${fmt(x0 + w)}" y2="${fmt(y0 + h)}" stroke="#333"/>`);
  out.push(text(offsetX + 14, y0 + h / 2, yLabel, `font-size="11" text-anchor="middle" transform="rotate(-90 ${fmt(offsetX + 14)} ${fmt(y0 + h / 2)})"`));
  return { x0, y0, w, h, y };
}

const LEGEND_COLUMNS = 4;
const LEGEND_ENTRY = 150;

/** The panels centred in a page wide enough for the title and a legend row. */
function document(title: string, panels: number, body: string[], legend: string[] = []): string {
  const panelsWidth = Math.max(1, panels) * PANEL.width;
  const width = Math.max(panelsWidth, legend.length ? LEGEND_COLUMNS * LEGEND_ENTRY + 40 : 0, title.length * 8 + 40);
  const legendRows = Math.ceil(legend.length / LEGEND_COLUMNS);
  const height = 30 + PANEL.height + legendRows * 18;
  const out = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    text(width / 2, 18, title, 'font-size="14" font-weight="bold" text-anchor="middle"'),
    `<g transform="translate(${fmt((width - panelsWidth) / 2)} 24)">`,
    ...body,
    `</g>`,
  ];
  legend.forEach((label, i) => {
    const x = 20 + (i % LEGEND_COLUMNS) * Math.max(LEGEND_ENTRY, (width - 40) / LEGEND_COLUMNS);
    const y = 24 + PANEL.height + 6 + Math.floor(i / LEGEND_COLUMNS) * 18;
    out.push(`<rect x="${fmt(x)}" y="${fmt(y)}" width="12" height="12" fill="${colour(i)}"/>`);
    out.push(text(x + 17, y + 10, label, 'font-size="11"'));
  });
  out.push('</svg>', '');
  return out.join('\n');
}

export interface Bar {
  label: string;
  value: number;
  /** Half-length of the error bar (e.g. one standard deviation); omitted or NaN: none. */
  error?: number;
}

export interface BarPanel {
  title: string;
  bars: Bar[];
}

export interface BarChartOptions {
  yLabel: string;
  /** Start the y axis at zero (counts); otherwise it spans the data. */
  zero?: boolean;
  /** Colour bars by their label across panels and show a legend (for series such as feature sets). */
  legend?: string[];
}

/** One panel per entry, bars left to right; a NaN value leaves its slot empty, marked "n/a". */
export function barChart(title: string, panels: BarPanel[], options: BarChartOptions): string {
  const body: string[] = [];
  panels.forEach((panel, p) => {
    const extents = panel.bars.flatMap((b) => [b.value - (b.error || 0), b.value + (b.error || 0)]);
    const frame = panelFrame(body, p * PANEL.width, panel.title, options.yLabel, yRange(extents, options.zero ?? false));
    const slot = frame.w / Math.max(1, panel.bars.length);
    const base = frame.y0 + frame.h;
    panel.bars.forEach((bar, i) => {
      const cx = frame.x0 + slot * (i + 0.5);
      const series = options.legend ? options.legend.indexOf(bar.label) : 0;
      if (Number.isFinite(bar.value)) {
        const top = frame.y(bar.value);
        body.push(`<rect x="${fmt(cx - slot * 0.35)}" y="${fmt(Math.min(top, base))}" width="${fmt(slot * 0.7)}" height="${fmt(Math.abs(base - top))}" fill="${colour(Math.max(0, series))}"><title>${escapeXml(`${bar.label}: ${fmt(bar.value)}${bar.error ? ` ± ${fmt(bar.error)}` : ''}`)}</title></rect>`);
        if (bar.error && Number.isFinite(bar.error)) {
          const [hi, lo] = [frame.y(bar.value + bar.error), frame.y(bar.value - bar.error)];
          body.push(`<path d="M${fmt(cx)} ${fmt(hi)}V${fmt(lo)}M${fmt(cx - 5)} ${fmt(hi)}h10M${fmt(cx - 5)} ${fmt(lo)}h10" stroke="#222" stroke-width="1.2" fill="none"/>`);
        }
        const labelY = frame.y(bar.value + (bar.error && Number.isFinite(bar.error) ? bar.error : 0)) - 4;
        body.push(text(cx, labelY, fmt(Number(bar.value.toPrecision(4))), 'font-size="9" text-anchor="middle"'));
      } else body.push(text(cx, base - 4, 'n/a', 'font-size="9" text-anchor="middle" fill="#888"'));
      body.push(text(cx, base + 12, bar.label, `font-size="10" text-anchor="end" transform="rotate(-30 ${fmt(cx)} ${fmt(base + 12)})"`));
    });
  });
  return document(title, panels.length, body, options.legend);
}

export interface Series {
  label: string;
  points: [number, number][];
}

export interface LinePanel {
  title: string;
  series: Series[];
}

/** One panel per entry; series coloured by their index in `legend`, with a dot per point. */
export function lineChart(title: string, panels: LinePanel[], options: { xLabel: string; yLabel: string; legend: string[] }): string {
  const body: string[] = [];
  panels.forEach((panel, p) => {
    const points = panel.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    const frame = panelFrame(body, p * PANEL.width, panel.title, options.yLabel, yRange(points.map(([, y]) => y), false));
    const xs = points.map(([x]) => x);
    const [xlo, xhi] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
    const x = (v: number) => frame.x0 + (xhi > xlo ? ((v - xlo) / (xhi - xlo)) * frame.w : frame.w / 2);
    for (const t of niceTicks(xlo, xhi).filter((t) => Number.isInteger(t) || xhi - xlo < 5)) {
      body.push(text(x(t), frame.y0 + frame.h + 14, fmt(t), 'font-size="10" text-anchor="middle"'));
    }
    body.push(text(frame.x0 + frame.w / 2, frame.y0 + frame.h + 32, options.xLabel, 'font-size="11" text-anchor="middle"'));
    for (const s of panel.series) {
      const c = colour(Math.max(0, options.legend.indexOf(s.label)));
      const ok = s.points.filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b));
      if (ok.length === 0) continue;
      body.push(`<polyline points="${ok.map(([a, b]) => `${fmt(x(a))},${fmt(frame.y(b))}`).join(' ')}" fill="none" stroke="${c}" stroke-width="1.8"><title>${escapeXml(s.label)}</title></polyline>`);
      for (const [a, b] of ok) body.push(`<circle cx="${fmt(x(a))}" cy="${fmt(frame.y(b))}" r="2.5" fill="${c}"/>`);
    }
  });
  return document(title, panels.length, body, options.legend);
}
