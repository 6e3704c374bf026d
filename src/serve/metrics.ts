/**
 * The server's Prometheus metrics, in the text exposition format (version 0.0.4), written by hand:
 * two counters and two histograms do not need a client library.
 */

/** Upper bounds of the latency buckets, in seconds: fine below 10 ms (the bank path), coarse up to 10 s (the LM path). */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Stages take microseconds on the bank path, so their buckets start at 5 µs; the LM's profile lookup takes seconds. */
export const STAGE_BUCKETS = [0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.1, 1, 10];

/**
 * The stages of a `/v1/score` request, in order: reading, parsing and validating the body; the
 * profile lookup (the feature bank, or in lm mode the LM's inference); raw ids to the model's
 * inputs; the CTR model; the JSON answer.
 */
export const SCORE_STAGES = ['parse', 'bank_lookup', 'feature_encoding', 'model_forward', 'serialisation'] as const;
export type ScoreStage = (typeof SCORE_STAGES)[number];

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

class Histogram {
  /** Each observation lands in its first bucket only; buckets are made cumulative at exposition. */
  private readonly buckets: number[];
  private sum = 0;
  private count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.buckets = new Array<number>(bounds.length).fill(0);
  }

  observe(value: number): void {
    for (let i = 0; i < this.bounds.length; i++) {
      if (value <= this.bounds[i]) {
        this.buckets[i]++;
        break;
      }
    }
    this.sum += value;
    this.count++;
  }

  /** `name_bucket`, `name_sum` and `name_count` lines for the label set `key` (`{...}`). */
  lines(name: string, key: string): string[] {
    const inner = key.slice(1, -1);
    let cumulative = 0;
    return [
      ...this.bounds.map((le, i) => `${name}_bucket{${inner},le="${le}"} ${(cumulative += this.buckets[i])}`),
      `${name}_bucket{${inner},le="+Inf"} ${this.count}`,
      `${name}_sum${key} ${this.sum}`,
      `${name}_count${key} ${this.count}`,
    ];
  }
}

export class ServeMetrics {
  private readonly requests = new Map<string, number>();
  private readonly latency = new Map<string, Histogram>();
  private readonly profiles = new Map<string, number>();
  private readonly stages = new Map(SCORE_STAGES.map((stage) => [stage, new Histogram(STAGE_BUCKETS)]));
  /** Label sets by their parts: built (and escaped) once, not on every request. */
  private readonly keys = new Map<string, string>();

  constructor(private readonly info: { mode: string; bank_version: string }) {}

  /** One answered request; `route` is the route pattern (e.g. /v1/users/:id/profile), not the raw URL. */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const counterKey = this.key(`requests ${method} ${route} ${status}`, () => labels({ method, route, status: String(status) }));
    this.requests.set(counterKey, (this.requests.get(counterKey) ?? 0) + 1);
    const key = this.key(`latency ${method} ${route}`, () => labels({ method, route }));
    let h = this.latency.get(key);
    if (!h) this.latency.set(key, (h = new Histogram(LATENCY_BUCKETS)));
    h.observe(seconds);
  }

  /** Time one stage of a `/v1/score` request took. */
  observeStage(stage: ScoreStage, seconds: number): void {
    this.stages.get(stage)!.observe(seconds);
  }

  /** One profile served, by where it came from (bank source, lm, default). */
  observeProfile(source: string): void {
    const key = this.key(`profiles ${source}`, () => labels({ source }));
    this.profiles.set(key, (this.profiles.get(key) ?? 0) + 1);
  }

  text(): string {
    const lines = [
      '# HELP userip_info The serving mode and the feature-bank version; the value is always 1.',
      '# TYPE userip_info gauge',
      `userip_info${labels(this.info)} 1`,
      '# HELP userip_http_requests_total HTTP requests answered, by method, route pattern and status code.',
      '# TYPE userip_http_requests_total counter',
      ...[...this.requests].map(([key, n]) => `userip_http_requests_total${key} ${n}`),
      '# HELP userip_profiles_total Profiles served, by source (tuned, cold-start, bank, lm, or default for unknown users).',
      '# TYPE userip_profiles_total counter',
      ...[...this.profiles].map(([key, n]) => `userip_profiles_total${key} ${n}`),
      '# HELP userip_http_request_duration_seconds Time from receiving a request to sending its response.',
      '# TYPE userip_http_request_duration_seconds histogram',
      ...[...this.latency].flatMap(([key, h]) => h.lines('userip_http_request_duration_seconds', key)),
      `# HELP userip_score_stage_duration_seconds Time per stage of answered /v1/score requests: ${SCORE_STAGES.join(', ')} (in lm mode bank_lookup is the LM's inference).`,
      '# TYPE userip_score_stage_duration_seconds histogram',
      ...[...this.stages].flatMap(([stage, h]) => h.lines('userip_score_stage_duration_seconds', labels({ stage }))),
    ];
    return lines.join('\n') + '\n';
  }

  private key(parts: string, build: () => string): string {
    let key = this.keys.get(parts);
    if (key === undefined) this.keys.set(parts, (key = build()));
    return key;
  }
}

/** `{a="x",b="y"}` with label values escaped as the format requires. */
function labels(values: Record<string, string>): string {
  const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  return `{${Object.entries(values)
    .map(([k, v]) => `${k}="${escape(v)}"`)
    .join(',')}}`;
}
