/** Charts as SVG files: ECharts' server-side renderer, the same library the explorer page draws with. */
import * as echarts from 'echarts';
import type { Chart } from './options.js';

/** The chart as a standalone SVG document at its laid-out size. */
export function renderSvg(chart: Chart): string {
  const instance = echarts.init(null, null, { renderer: 'svg', ssr: true, width: chart.width, height: chart.height });
  try {
    instance.setOption(chart.option);
    return `<?xml version="1.0" encoding="UTF-8"?>\n${instance.renderToSVGString()}\n`;
  } finally {
    instance.dispose();
  }
}
