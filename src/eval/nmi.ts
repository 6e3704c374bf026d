/**
 * Normalized mutual information between two labelings of the same users: how much a slot's IDs tell
 * about a true attribute. Normalized by the arithmetic mean of the two entropies (scikit-learn's
 * default), so 1 means the IDs determine the attribute and the attribute the IDs, 0 independence.
 */

function counts(labels: ArrayLike<number | string>): Map<number | string, number> {
  const out = new Map<number | string, number>();
  for (let i = 0; i < labels.length; i++) out.set(labels[i], (out.get(labels[i]) ?? 0) + 1);
  return out;
}

function entropy(c: Map<unknown, number>, n: number): number {
  let h = 0;
  for (const k of c.values()) h -= (k / n) * Math.log(k / n);
  return h;
}

export function mutualInformation(a: ArrayLike<number | string>, b: ArrayLike<number | string>): number {
  if (a.length !== b.length) throw new Error(`mutual information: ${a.length} vs ${b.length} labels`);
  const n = a.length;
  const ca = counts(a);
  const cb = counts(b);
  const joint = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const key = JSON.stringify([a[i], b[i]]);
    joint.set(key, (joint.get(key) ?? 0) + 1);
  }
  let mi = 0;
  for (const [key, k] of joint) {
    const [x, y] = JSON.parse(key) as [number | string, number | string];
    mi += (k / n) * Math.log((k * n) / (ca.get(x)! * cb.get(y)!));
  }
  return Math.max(0, mi);
}

/** NMI in [0, 1]; two labelings with one class each count as identical (1), as in scikit-learn. */
export function nmi(a: ArrayLike<number | string>, b: ArrayLike<number | string>): number {
  const n = a.length;
  if (n === 0) return NaN;
  const ha = entropy(counts(a), n);
  const hb = entropy(counts(b), n);
  if (ha === 0 && hb === 0) return 1;
  if (ha === 0 || hb === 0) return 0;
  return Math.min(1, mutualInformation(a, b) / ((ha + hb) / 2));
}
