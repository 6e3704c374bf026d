/**
 * A user's whole history as windows: consecutive behaviour lines packed greedily, oldest first, into
 * token sequences of at most `budget` tokens (lines joined by the separator's tokens). A line longer
 * than the budget gets a window of its own, cut to the budget. Tokens are counted per line, so the same
 * lines always give the same windows, whichever path (tuning, new users) asks.
 */
export function packWindows(lines: readonly number[][], separator: readonly number[], budget: number): number[][] {
  const windows: number[][] = [];
  let current: number[] = [];
  for (const line of lines) {
    if (line.length === 0) continue;
    const cost = (current.length ? separator.length : 0) + line.length;
    if (current.length && current.length + cost > budget) {
      windows.push(current);
      current = [];
    }
    if (current.length) current.push(...separator);
    current.push(...line.slice(0, budget - current.length));
  }
  if (current.length) windows.push(current);
  return windows;
}
