/**
 * The JSON the explorer's endpoints answer with, shared by the server and the page (type-only on
 * the page side).
 */

export interface AttributeLiftView {
  attribute: string;
  share: number;
  lift: number;
}

export interface CodeView {
  code: number;
  /** Users holding this code in the feature bank. */
  users: number;
  /** From explain.json (empty without it): attributes over-represented among the code's users. */
  top: AttributeLiftView[];
  /** The LM's words for the code's centroid, and for the behaviour text after it. */
  words: string[];
  behaviour_words: string[];
  /** The LM's greedy continuation after the centroid; null without explain.json. */
  continuation: string | null;
}

export interface SlotView {
  slot: string;
  /** The slot's phrase in the prompt template. */
  text: string;
  k: number;
  /** From tune.json when it has them. */
  perplexity: number | null;
  dead_codes: number | null;
  codes: CodeView[];
}

/** GET /v1/codebooks */
export interface CodebooksView {
  run: string;
  lm: string;
  /** Whether explain.json was found (`userip profile explain --run DIR` writes it). */
  explained: boolean;
  slots: SlotView[];
}

export interface BehaviourLine {
  item: string;
  /** Title and attributes of the item, as far as the catalog knows them. */
  text: string;
  rating: number;
  /** Unix seconds. */
  timestamp: number;
}

export interface NeighbourView {
  user: string;
  /** Cosine similarity of the users' soft tokens (all slots concatenated). */
  similarity: number;
  ids: number[];
}

export interface ScoredItem {
  item: string;
  text: string;
  probability: number;
}

/** GET /v1/users/:id */
export interface UserView {
  user: string;
  /** The bank entry's source (`tuned`, `cold-start`), or null when the bank has no entry. */
  source: string | null;
  slots: { name: string; id: number }[];
  /** The user's last training interactions, newest first; empty without the prepared data. */
  behaviour: BehaviourLine[];
  /** Nearest users by soft token; empty for a user the tune run has no soft tokens for. */
  neighbours: NeighbourView[];
  /** Top-scored items the user has not interacted with in training; null when no CTR model is loaded. */
  top_items: ScoredItem[] | null;
}

/** GET /v1/report: the files as they are on disk (fields vary by version), or null where missing. */
export interface ReportView {
  comparison: { path: string; report: Record<string, unknown> } | null;
  tuning: { path: string; tune: Record<string, unknown> } | null;
}
