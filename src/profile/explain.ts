/**
 * What a code means: for each slot and code, how many users hold it and which item attributes
 * (genres, categories, brands) are over-represented among those users' training interactions,
 * measured as lift = P(attribute | code) / P(attribute | everyone).
 */

export interface AttributeLift {
  attribute: string;
  /** Share of the code's users' interactions with this attribute. */
  share: number;
  lift: number;
}

export interface CodeExplanation {
  code: number;
  users: number;
  top: AttributeLift[];
}

export interface ExplainOptions {
  /** Attributes to list per code. */
  top: number;
  /** Ignore attributes seen in fewer of the code's interactions than this (noise at small counts). */
  minCount: number;
}

/**
 * @param codes code of each user (same order as `attributes`)
 * @param attributes per user, the attributes of each of their training interactions (repeats count)
 */
export function explainCodes(codes: ArrayLike<number>, k: number, attributes: readonly string[][], options: ExplainOptions): CodeExplanation[] {
  const population = new Map<string, number>();
  let populationTotal = 0;
  const perCode = Array.from({ length: k }, () => ({ users: 0, total: 0, counts: new Map<string, number>() }));
  attributes.forEach((attrs, u) => {
    const c = perCode[codes[u]];
    c.users++;
    for (const a of attrs) {
      population.set(a, (population.get(a) ?? 0) + 1);
      c.counts.set(a, (c.counts.get(a) ?? 0) + 1);
    }
    populationTotal += attrs.length;
    c.total += attrs.length;
  });
  return perCode.map((c, code) => ({
    code,
    users: c.users,
    top: [...c.counts.entries()]
      .filter(([, n]) => n >= options.minCount)
      .map(([attribute, n]) => ({ attribute, share: n / c.total, lift: n / c.total / (population.get(attribute)! / populationTotal) }))
      .sort((a, b) => b.lift - a.lift || b.share - a.share || (a.attribute < b.attribute ? -1 : 1))
      .slice(0, options.top),
  }));
}
