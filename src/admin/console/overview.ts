import type Router from '@koa/router';
import type { AccountService } from '../../accounts/service.js';
import type { ClientService } from '../../clients/service.js';
import type { ReadinessProbe } from '../../http/health.js';
import type { KeyService } from '../../keys/service.js';
import type { Metrics } from '../../observability/metrics.js';
import { ADMIN_PATH } from '../../web/paths.js';
import type { SignedInPages } from '../../web/signed-in-pages.js';
import { relativeTime, sectionRenderer, utcMinute } from './section.js';

export interface OverviewDeps {
  clients: ClientService;
  accounts: AccountService;
  keys: KeyService;
  /** The figures /metrics exports, with their last hour in this process. */
  metrics: Pick<Metrics, 'recent' | 'since'>;
  /** The readiness check of /readyz. */
  health: ReadinessProbe;
}

const HOUR_MS = 3_600_000;

/**
 * The console's Overview: totals (one count query each: the lists page on
 * the server), the last hour's tokens and failed sign-ins from the same
 * increments as /metrics, the signing keys' states, and the storage tiers
 * as /readyz sees them. The hour is this process's: with several processes
 * or workers, each counts what it served (Prometheus sums them).
 */
export function mountOverviewPage(router: Router, deps: OverviewDeps & { pages: SignedInPages }): void {
  const { clients, accounts, keys, metrics, health, pages } = deps;
  const render = sectionRenderer(pages, 'home');

  router.get(ADMIN_PATH, pages.requireAdmin(ADMIN_PATH), async (ctx) => {
    const now = Date.now();
    const [{ total: clientCount }, { total: userCount }, keyList, readiness] = await Promise.all([
      clients.list({ page: 1, perPage: 1 }),
      accounts.list({ page: 1, perPage: 1 }),
      keys.list(now),
      // A probe that throws is a tier that is down, as /readyz would answer.
      health.readiness().catch(() => ({ durable: false, ephemeral: false })),
    ]);
    const tokens = metrics.recent.tokensIssued.counts(now);
    const windowStart = Math.max(metrics.since.getTime(), now - HOUR_MS);
    render(ctx, 'console/home', {
      title: 'Overview', clientCount, userCount, readiness,
      tokens, tokenTotal: tokens.reduce((sum, { count }) => sum + count, 0),
      signInFailures: metrics.recent.signInFailures.counts(now),
      fullHour: metrics.since.getTime() <= now - HOUR_MS,
      windowStart: utcMinute(new Date(windowStart)), processStart: `${utcMinute(metrics.since)} (${relativeTime(metrics.since, now)})`,
      signingKeys: keyList.filter((key) => key.state === 'signing'),
      waiting: keyList.filter((key) => key.state === 'pending' || key.state === 'retirable').length,
    });
  });
}
