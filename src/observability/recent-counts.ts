const MINUTE_MS = 60_000;

/** A count of the window, by label set. */
export interface RecentCount<L extends string> {
  labels: Record<L, string>;
  count: number;
}

/**
 * How many times something happened in this process over the last hour,
 * by label set: Prometheus counters only ever grow, and a page cannot ask
 * Prometheus for a rate, so the same increments are also kept here in
 * one-minute buckets (at most 61 of them, whatever the traffic). The hour
 * is counted in whole minutes: the current minute and the sixty before it.
 */
export class RecentCounts<L extends string> {
  private readonly buckets = new Map<number, Map<string, number>>();

  constructor(private readonly labelNames: readonly L[], private readonly windowMinutes = 60) {}

  add(labels: Record<L, string>, now = Date.now()): void {
    const minute = Math.floor(now / MINUTE_MS);
    let bucket = this.buckets.get(minute);
    if (!bucket) {
      // A new minute: the one time the window moves, so the one time to prune (not on every add).
      this.prune(minute);
      this.buckets.set(minute, bucket = new Map());
    }
    const key = JSON.stringify(this.labelNames.map((name) => labels[name]));
    bucket.set(key, (bucket.get(key) ?? 0) + 1);
  }

  /** The window's counts, largest first. */
  counts(now = Date.now()): Array<RecentCount<L>> {
    this.prune(Math.floor(now / MINUTE_MS));
    const totals = new Map<string, number>();
    for (const bucket of this.buckets.values()) {
      for (const [key, count] of bucket) totals.set(key, (totals.get(key) ?? 0) + count);
    }
    return [...totals].map(([key, count]) => {
      const values = JSON.parse(key) as string[];
      return { labels: Object.fromEntries(this.labelNames.map((name, i) => [name, values[i]!])) as Record<L, string>, count };
    }).sort((a, b) => b.count - a.count);
  }

  total(now = Date.now()): number {
    return this.counts(now).reduce((sum, { count }) => sum + count, 0);
  }

  private prune(minute: number): void {
    for (const key of this.buckets.keys()) if (key < minute - this.windowMinutes) this.buckets.delete(key);
  }
}
