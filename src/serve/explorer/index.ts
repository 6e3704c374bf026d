/**
 * The profile explorer: a web page at /ui/ over a tune run (codebooks, users, the comparison report,
 * tuning), served by `userip serve` next to the scoring API or alone by `userip explore`.
 */
export { Explorer, type ExplorerOptions, type ItemScoring } from './run.js';
export { createExplorerServer, registerExplorer, scoringThrough } from './routes.js';
export type { CodebooksView, ReportView, UserView } from './views.js';
