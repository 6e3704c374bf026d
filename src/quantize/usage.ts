/** How evenly a slot's IDs are used: the check that a codebook has not collapsed (paper-spec §12 Q6). */

export interface CodebookUsage {
  /** Members per code (the usage histogram). */
  counts: number[];
  /** exp(entropy) of the usage distribution: k when all codes are used equally, 1 when one code takes everything. */
  perplexity: number;
  /** Codes with no members. */
  deadCodes: number;
}

export function usage(ids: ArrayLike<number>, k: number): CodebookUsage {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`usage: k must be a positive integer, got ${k}`);
  const counts = new Array<number>(k).fill(0);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!Number.isInteger(id) || id < 0 || id >= k) throw new RangeError(`usage: id ${id} at ${i} is outside [0, ${k})`);
    counts[id]++;
  }
  let entropy = 0;
  for (const c of counts) {
    if (c > 0) entropy -= (c / ids.length) * Math.log(c / ids.length);
  }
  // clamped because exp(log k) can round just above k
  return { counts, perplexity: Math.min(k, Math.max(1, Math.exp(entropy))), deadCodes: counts.filter((c) => c === 0).length };
}
