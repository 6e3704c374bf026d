/**
 * The CLI's `Progress` (src/io/progress.ts), on stderr: a cli-progress bar redrawn in place on a
 * terminal; otherwise (a log file, CI) a line when a phase starts, at every further 10% and at its end,
 * so that a piped run writes a few lines per phase instead of hundreds of bar frames.
 */
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { silentProgress, type Progress } from '../io/index.js';

export function terminalProgress(options: { bar?: boolean } = {}, stream: NodeJS.WriteStream = process.stderr): Progress {
  const write = (line: string) => stream.write(`${line}\n`);
  // --no-progress: the lines a run logs, without the bar or its 10% lines.
  if (options.bar === false) return { ...silentProgress, log: write };
  return stream.isTTY ? barProgress(stream) : lineProgress(write);
}

function barProgress(stream: NodeJS.WriteStream): Progress {
  const bars = new MultiBar({ format: '{phase} |{bar}| {value}/{total} | {detail} | ETA {eta_formatted}', stream, hideCursor: true, etaBuffer: 50 }, Presets.shades_classic);
  let bar: SingleBar | undefined;
  return {
    start(phase, total, done = 0) {
      if (bar) bars.remove(bar);
      bar = bars.create(total, done, { phase, detail: '' });
    },
    update(done, detail = '') {
      bar?.update(done, { detail });
    },
    log(line) {
      // The bar buffers logged lines until its next redraw; with no bar up, there is none.
      if (bar) bars.log(`${line}\n`);
      else stream.write(`${line}\n`);
    },
    stop() {
      bars.stop();
      bar = undefined;
    },
  };
}

/** One line per phase start, per 10% of it and at its end. */
export function lineProgress(write: (line: string) => void): Progress {
  let phase = '';
  let total = 0;
  let shown = -1;
  let last = { done: 0, detail: '' };
  const line = (done: number, detail: string) => write(`${phase}: ${done}/${total}${detail ? ` | ${detail}` : ''}`);
  return {
    start(name, steps, done = 0) {
      phase = name;
      total = steps;
      last = { done, detail: '' };
      shown = Math.floor((10 * done) / Math.max(1, total));
      line(done, '');
    },
    update(done, detail = '') {
      last = { done, detail };
      const tenth = Math.floor((10 * done) / Math.max(1, total));
      if (tenth > shown) {
        shown = tenth;
        line(done, detail);
      }
    },
    log: write,
    stop() {
      if (phase && shown < 10) line(last.done, last.detail);
      phase = '';
    },
  };
}
