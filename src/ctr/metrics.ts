/**
 * CTR metrics over labels in {0, 1}. AUC is exact (no binning) and tie-aware, so it equals
 * sklearn's roc_auc_score; a metric that is undefined for the input (one class only) is NaN.
 */

/**
 * ROC AUC as the Mann–Whitney statistic: rank all scores ascending, tied scores sharing their
 * average rank; AUC = (Σ ranks of positives − P(P+1)/2) / (P·N). A positive–negative pair with
 * equal scores counts one half.
 */
export function auc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  checkLengths(labels, scores);
  const n = labels.length;
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < n; i++) if (Number.isNaN(scores[i])) throw new Error(`auc: score ${i} is NaN`);
  order.sort((a, b) => (scores[a] < scores[b] ? -1 : scores[a] > scores[b] ? 1 : 0));
  let positives = 0;
  let positiveRankSum = 0;
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && scores[order[end]] === scores[order[start]]) end++;
    const averageRank = (start + 1 + end) / 2; // ranks start+1 .. end
    for (let i = start; i < end; i++) {
      if (isPositive(labels[order[i]])) {
        positives++;
        positiveRankSum += averageRank;
      }
    }
    start = end;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return NaN;
  return (positiveRankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Mean binary cross-entropy, probabilities clipped to [eps, 1 − eps] so a confident miss stays finite. */
export function logloss(labels: ArrayLike<number>, probs: ArrayLike<number>, eps = 1e-7): number {
  checkLengths(labels, probs);
  if (labels.length === 0) return NaN;
  let sum = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = Math.min(Math.max(probs[i], eps), 1 - eps);
    sum -= isPositive(labels[i]) ? Math.log(p) : Math.log(1 - p);
  }
  return sum / labels.length;
}

/**
 * Group AUC: each user's AUC over their own impressions, averaged with weights = their number of
 * impressions, over the users who have both classes (for the others AUC is undefined).
 */
export function gauc(labels: ArrayLike<number>, scores: ArrayLike<number>, users: ArrayLike<number>): number {
  checkLengths(labels, scores);
  checkLengths(labels, users);
  const byUser = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const rows = byUser.get(users[i]);
    if (rows) rows.push(i);
    else byUser.set(users[i], [i]);
  }
  let weighted = 0;
  let weight = 0;
  for (const rows of byUser.values()) {
    const a = auc(
      rows.map((i) => labels[i]),
      rows.map((i) => scores[i]),
    );
    if (Number.isNaN(a)) continue;
    weighted += a * rows.length;
    weight += rows.length;
  }
  return weight > 0 ? weighted / weight : NaN;
}

function isPositive(label: number): boolean {
  if (label === 1) return true;
  if (label === 0) return false;
  throw new Error(`labels must be 0 or 1, found ${label}`);
}

function checkLengths(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new Error(`${a.length} labels but ${b.length} values`);
}
