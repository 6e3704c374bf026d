/**
 * The shared chart options rendered to SVG in Node: bars, error bars and lines land where the data
 * says, text is escaped, and missing values leave gaps rather than NaN in the drawing.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { aucChart, barChart, curvesChart, renderSvg, tuningChart, usageChart } from '../../src/charts/index.js';
import { assertWellFormedSvg } from './svgcheck.js';

/** Filled rectangles-as-paths ECharts draws for bars: `M x y L x y L x y L x y Z` with the series colour. */
const barsIn = (svg: string, colour: string) => (svg.match(new RegExp(`<path d="M[^"]*Z" fill="${colour}"`, 'g')) ?? []).length;

it('bar charts: one bar per finite value, an error bar (three strokes) per finite error, escaped text', () => {
  const chart = barChart('A & B <test>', [{ title: 'warm', categories: ['id', 'id+x', 'id+y'], series: [{ name: 'dcn', values: [0.78, null, 0.79], errors: [0.002, null, NaN] }] }], { yName: 'AUC' });
  const svg = renderSvg(chart);
  assertWellFormedSvg(svg, 'bar chart');
  assert.match(svg, /A &amp; B &lt;test&gt;/);
  assert.equal(barsIn(svg, '#4477aa'), 2);
  assert.equal((svg.match(/stroke="#222"/g) ?? []).length, 3, 'one error bar: a stem and two caps');
});

it('the AUC chart: a panel per protocol, a bar series per model, std error bars; rows without a model count as dcn', () => {
  const rows = ['warm', 'cold'].flatMap((protocol) => [
    { features: 'id', protocol, seeds: 5, auc_mean: 0.75, auc_std: 0.002 },
    { model: 'deepfm', features: 'id', protocol, seeds: 5, auc_mean: 0.76, auc_std: 0.001 },
    { model: 'dcn', features: 'id+userip', protocol, seeds: 5, auc_mean: 0.752, auc_std: 0.003 },
  ]);
  const chart = aucChart(rows, 'ml');
  const series = chart.option.series as { type: string; name: string }[];
  assert.deepEqual(series.filter((s) => s.type === 'bar').map((s) => s.name), ['dcn', 'deepfm', 'dcn', 'deepfm']);
  const svg = renderSvg(chart);
  assertWellFormedSvg(svg, 'auc chart');
  assert.equal(barsIn(svg, '#4477aa'), 4, 'dcn: id and id+userip in each panel');
  assert.equal(barsIn(svg, '#ee6677'), 2, 'deepfm: id in each panel');
  assert.equal((svg.match(/stroke="#222"/g) ?? []).length, 6 * 3);
  assert.match(svg, />cold-start users</);
});

it('line charts: one line per series and panel, skipping non-finite points; empty panels survive', () => {
  const curves = curvesChart([
    { features: 'id', protocol: 'warm', seed: 1, valid_auc: [0.7, 0.75, 0.74] },
    { features: 'id', protocol: 'warm', seed: 0, valid_auc: [0.71, NaN] },
    { features: 'id+x', protocol: 'cold', seed: 0, valid_auc: [0.6, 0.65] },
  ]);
  assert.match(JSON.stringify(curves.option.title), /seed 0/);
  const data = (curves.option.series as { data: number[][] }[]).map((s) => s.data);
  assert.deepEqual(data, [[[1, 0.71]], [[1, 0.6], [2, 0.65]]]);
  assertWellFormedSvg(renderSvg(curves), 'curves');
  assertWellFormedSvg(renderSvg(tuningChart([], undefined)), 'empty tuning chart');
  const tuning = tuningChart([{ epoch: 1, val_nll: 5.3 }, { epoch: 2, val_nll: 5.2, train_loss: 5.1 }], 5.4);
  assert.deepEqual((tuning.option.series as { data: number[][] }[]).map((s) => s.data), [[[0, 5.4], [1, 5.3], [2, 5.2]], [[2, 5.1]]]);
});

it('the usage chart starts at zero and has a panel per slot', () => {
  const chart = usageChart([{ slot: 'hobby', k: 3, counts: [5, 0, 2], perplexity: 2.2 }, { slot: 'background', k: 2, counts: [4, 3], perplexity: NaN }]);
  assert.equal((chart.option.grid as unknown[]).length, 2);
  assert.ok((chart.option.yAxis as { min: number }[]).every((a) => a.min === 0));
  const svg = renderSvg(chart);
  assertWellFormedSvg(svg, 'usage');
  assert.match(svg, /hobby \(k=3, perplexity 2\.20\)/);
  assert.match(svg, />background \(k=2\)</);
});
