/**
 * Charts shared by the report files and the explorer page: ECharts options built from report and
 * tune-run data (`options.ts`, which the page also loads in the browser), and their SVG rendering.
 */
export {
  aucChart,
  barChart,
  curvesChart,
  DEFAULT_MODEL,
  lineChart,
  tuningChart,
  usageChart,
  type AucRow,
  type BarPanel,
  type BarSeries,
  type Chart,
  type CodebookUsage,
  type CurveRun,
  type LinePanel,
  type TuneEpoch,
} from './options.js';
export { renderSvg } from './svg.js';
