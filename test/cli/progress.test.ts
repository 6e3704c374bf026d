/** Progress when output is not a terminal: a few lines per phase, not a redrawn bar. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lineProgress, terminalProgress } from '../../src/cli/progress.js';

test('piped progress writes a line at the start, at every 10% and for logged lines, not one per step', () => {
  const lines: string[] = [];
  const progress = lineProgress((line) => lines.push(line));
  progress.start('tune E-step 1/2', 1000);
  for (let done = 1; done <= 1000; done++) {
    progress.update(done, `loss ${(1 / done).toFixed(3)}`);
    if (done === 500) progress.log('step 500: val loss 1.0');
  }
  progress.stop();
  assert.equal(lines.length, 1 + 10 + 1);
  assert.equal(lines[0], 'tune E-step 1/2: 0/1000');
  assert.equal(lines[1], 'tune E-step 1/2: 100/1000 | loss 0.010');
  assert.ok(lines.includes('step 500: val loss 1.0'));
  assert.equal(lines.at(-1), 'tune E-step 1/2: 1000/1000 | loss 0.001');
});

test('a phase stopped early ends with its last position; a resumed phase starts where it was', () => {
  const lines: string[] = [];
  const progress = lineProgress((line) => lines.push(line));
  progress.start('train steps', 100, 40);
  progress.update(45, 'loss 2.000');
  progress.stop();
  assert.deepEqual(lines, ['train steps: 40/100', 'train steps: 45/100 | loss 2.000']);
});

test('--no-progress keeps the logged lines and drops the bar', () => {
  const written: string[] = [];
  const stream = { isTTY: true, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
  const progress = terminalProgress({ bar: false }, stream);
  progress.start('train steps', 10);
  progress.update(5, 'loss 1.000');
  progress.log('resuming from step 5');
  progress.stop();
  assert.deepEqual(written, ['resuming from step 5\n']);
});
