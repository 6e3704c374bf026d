/** Means of plain number arrays, the one definition every step uses. */

/** Arithmetic mean; NaN for no values (and when any value is NaN). */
export function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : NaN;
}

/** Mean of the values that are not NaN (users without validation text, say); NaN when none is. */
export function nanMean(xs: readonly number[]): number {
  return mean(xs.filter((x) => !Number.isNaN(x)));
}
