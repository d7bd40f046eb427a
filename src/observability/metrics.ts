import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { metricsText } from './cluster-metrics.js';
import { RecentCounts } from './recent-counts.js';

export type TokenLabels = 'grant_type' | 'dialect';
/** Where a sign-in failed: the login page, or the password grant (a dialect's or the standard one). */
export type SignInSurface = 'login' | 'password_grant';

/**
 * Gatehouse's Prometheus metrics. One registry per process; with several
 * workers, `text()` answers for the whole server (summed in the primary).
 */
export class Metrics {
  readonly registry = new Registry();

  /** The Prometheus text a scrape gets. */
  readonly text = metricsText(this.registry);

  readonly httpDuration = new Histogram({
    name: 'gatehouse_http_request_duration_seconds',
    help: 'HTTP request latency by route, method and status class.',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly tokensIssued = new Counter({
    name: 'gatehouse_tokens_issued_total',
    help: 'Successful token endpoint responses by grant type and dialect (standard, los, le, dot, lux).',
    labelNames: ['grant_type', 'dialect'] as const,
    registers: [this.registry],
  });

  readonly signInFailures = new Counter({
    name: 'gatehouse_sign_in_failures_total',
    help: 'Failed sign-ins (wrong username or password) by surface: login (the login page), password_grant.',
    labelNames: ['surface'] as const,
    registers: [this.registry],
  });

  /** When this process began counting: what the recent figures cover when it is less than an hour ago. */
  readonly since = new Date();

  /** The same increments as the counters, over the last hour of this process (what the console's overview shows). */
  readonly recent = {
    tokensIssued: new RecentCounts<TokenLabels>(['grant_type', 'dialect']),
    signInFailures: new RecentCounts<'surface'>(['surface']),
  };

  readonly tokenErrors = new Counter({
    name: 'gatehouse_token_errors_total',
    help: 'Token endpoint errors by OAuth error code.',
    labelNames: ['error'] as const,
    registers: [this.registry],
  });

  readonly storageDuration = new Histogram({
    name: 'gatehouse_storage_duration_seconds',
    help: 'Storage call latency by tier (durable, ephemeral) and operation.',
    labelNames: ['tier', 'operation'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
    registers: [this.registry],
  });

  readonly storageErrors = new Counter({
    name: 'gatehouse_storage_errors_total',
    help: 'Failed storage calls by tier and operation.',
    labelNames: ['tier', 'operation'] as const,
    registers: [this.registry],
  });

  readonly throttled = new Counter({
    name: 'gatehouse_throttled_total',
    help: 'Requests refused with 429 because of earlier failed authentications, by what was throttled (client, user, ip).',
    labelNames: ['subject'] as const,
    registers: [this.registry],
  });

  readonly signingKeys: Gauge<'state'>;

  /** A successful token response: counted for /metrics and for the last hour. */
  tokenIssued(labels: Record<TokenLabels, string>): void {
    this.tokensIssued.inc(labels);
    this.recent.tokensIssued.add(labels);
  }

  /** A wrong username or password: counted for /metrics and for the last hour. */
  signInFailed(surface: SignInSurface): void {
    this.signInFailures.inc({ surface });
    this.recent.signInFailures.add({ surface });
  }

  constructor(keyCounts: () => Promise<{ active: number; published: number; retired: number }>) {
    collectDefaultMetrics({ register: this.registry, prefix: 'gatehouse_' });
    this.signingKeys = new Gauge({
      name: 'gatehouse_signing_keys',
      help: 'Signing keys by state: active (signs), published (in JWKS), retired.',
      labelNames: ['state'] as const,
      registers: [this.registry],
      // Every worker counts the same shared keys: across workers, one reading, not a sum.
      aggregator: 'first',
      async collect() {
        const counts = await keyCounts().catch(() => undefined);
        if (!counts) return;
        for (const [state, count] of Object.entries(counts)) this.set({ state }, count);
      },
    });
  }
}
