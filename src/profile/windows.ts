/** A user's behaviour windows, and per window the weight of predicting each token (absent: 1 each). */
export interface BehaviourWindows {
  tokens: number[][];
  weights?: number[][];
}

/**
 * A user's whole history as windows: consecutive behaviour lines packed greedily, oldest first, into
 * token sequences of at most `budget` tokens (lines joined by the separator's tokens). A line longer
 * than the budget gets a window of its own, cut to the budget. Tokens are counted per line, so the same
 * lines always give the same windows, whichever path (tuning, new users) asks. Generic, so that a token's
 * weight can travel with it.
 */
export function packWindows<T>(lines: readonly (readonly T[])[], separator: readonly T[], budget: number): T[][] {
  const windows: T[][] = [];
  let current: T[] = [];
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
