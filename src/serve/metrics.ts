/**
 * The server's Prometheus metrics, in the text exposition format (version 0.0.4), written by hand:
 * two counters and one histogram do not need a client library.
 */

/** Upper bounds of the latency buckets, in seconds: fine below 10 ms (the bank path), coarse up to 10 s (the LM path). */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

interface Histogram {
  buckets: number[];
  sum: number;
  count: number;
}

export class ServeMetrics {
  private readonly requests = new Map<string, number>();
  private readonly latency = new Map<string, Histogram>();
  private readonly profiles = new Map<string, number>();

  constructor(private readonly info: { mode: string; bank_version: string }) {}

  /** One answered request; `route` is the route pattern (e.g. /v1/users/:id/profile), not the raw URL. */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const counterKey = labels({ method, route, status: String(status) });
    this.requests.set(counterKey, (this.requests.get(counterKey) ?? 0) + 1);
    const key = labels({ method, route });
    let h = this.latency.get(key);
    if (!h) this.latency.set(key, (h = { buckets: new Array(LATENCY_BUCKETS.length).fill(0), sum: 0, count: 0 }));
    // Cumulative buckets are summed at exposition; here each observation lands in its first bucket only.
    const bucket = LATENCY_BUCKETS.findIndex((le) => seconds <= le);
    if (bucket >= 0) h.buckets[bucket]++;
    h.sum += seconds;
    h.count++;
  }

  /** One profile served, by where it came from (bank source, lm, default). */
  observeProfile(source: string): void {
    const key = labels({ source });
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
    ];
    for (const [key, h] of this.latency) {
      const inner = key.slice(1, -1);
      let cumulative = 0;
      LATENCY_BUCKETS.forEach((le, i) => {
        cumulative += h.buckets[i];
        lines.push(`userip_http_request_duration_seconds_bucket{${inner},le="${le}"} ${cumulative}`);
      });
      lines.push(`userip_http_request_duration_seconds_bucket{${inner},le="+Inf"} ${h.count}`);
      lines.push(`userip_http_request_duration_seconds_sum${key} ${h.sum}`);
      lines.push(`userip_http_request_duration_seconds_count${key} ${h.count}`);
    }
    return lines.join('\n') + '\n';
  }
}

/** `{a="x",b="y"}` with label values escaped as the format requires. */
function labels(values: Record<string, string>): string {
  const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  return `{${Object.entries(values)
    .map(([k, v]) => `${k}="${escape(v)}"`)
    .join(',')}}`;
}
