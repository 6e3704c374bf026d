import assert from 'node:assert/strict';
import { it } from 'node:test';
import { barChart, lineChart } from '../../src/eval/svg.js';
import { assertWellFormedSvg } from './svgcheck.js';

it('bar charts escape text, mark undefined values n/a, and draw error bars', () => {
  const svg = barChart('A & B <test>', [{ title: 'warm', bars: [{ label: 'id', value: 0.78, error: 0.002 }, { label: 'id+x', value: NaN }] }], { yLabel: 'AUC', legend: ['id', 'id+x'] });
  assertWellFormedSvg(svg, 'bar chart');
  assert.match(svg, /A &amp; B &lt;test&gt;/);
  assert.match(svg, />n\/a</);
  assert.equal((svg.match(/<rect x=/g) ?? []).length, 1 + 2, 'one bar plus two legend swatches');
  assert.match(svg, /<path d="M/, 'an error bar');
});

it('line charts draw one polyline per series with points, and survive an empty panel', () => {
  const svg = lineChart('curves', [
    { title: 'warm', series: [{ label: 'id', points: [[1, 0.7], [2, 0.75], [3, 0.74]] }, { label: 'id+x', points: [[1, 0.71], [2, NaN]] }] },
    { title: 'cold', series: [] },
  ], { xLabel: 'epoch', yLabel: 'AUC', legend: ['id', 'id+x'] });
  assertWellFormedSvg(svg, 'line chart');
  assert.equal((svg.match(/<polyline /g) ?? []).length, 2);
  assert.equal((svg.match(/<circle /g) ?? []).length, 4);
});
