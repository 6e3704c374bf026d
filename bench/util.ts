import { performance } from 'node:perf_hooks';

export function emit(record: Record<string, unknown>): void {
  console.log(JSON.stringify(record));
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Seconds per call: `warmup` untimed calls, then the median of `repeats` timed calls. */
export async function timeMedian(fn: () => Promise<unknown>, warmup: number, repeats: number): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
  }
  return median(times);
}

/** Resident memory now, and the part of it in JS ArrayBuffers (MB); peakRssMb is the high-water mark. */
export function memoryNow(): { rss_mb: number; array_buffers_mb: number } {
  const m = process.memoryUsage();
  return { rss_mb: Math.round(m.rss / 2 ** 20), array_buffers_mb: Math.round(m.arrayBuffers / 2 ** 20) };
}

export function peakRssMb(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

export function round(x: number, digits = 2): number {
  return Number(x.toFixed(digits));
}
