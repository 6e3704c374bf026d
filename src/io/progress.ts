/**
 * How long-running work says how far it is. Domain code calls this and never prints; the CLI
 * implements it (a redrawn bar on a terminal, a line per 10% in a log file). Tests and libraries pass
 * `silentProgress`.
 */
export interface Progress {
  /** A phase of `total` steps begins; `done` of them are already done when a run resumes. */
  start(phase: string, total: number, done?: number): void;
  /** `done` of the phase's steps are done; `detail` is short ("loss 3.210"). */
  update(done: number, detail?: string): void;
  /** A line of its own that stays: an evaluation, a warning. */
  log(line: string): void;
  /** The phase is over. */
  stop(): void;
}

export const silentProgress: Progress = { start() {}, update() {}, log() {}, stop() {} };
