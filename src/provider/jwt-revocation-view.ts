import type { RevocationFeed, RevocationWatch, TokenRevocation } from '../../adapters/contract.js';

/** The claims of a verified JWT access token that say whether it was revoked. */
export interface RevocableClaims {
  jti?: unknown;
  client_id?: unknown;
  iat?: unknown;
}

// Lapsed entries are dropped when the view grows past this (and then past
// twice what survived), so the sweep costs O(1) per revocation on average.
const SWEEP_ABOVE = 10_000;

/**
 * This process's denylist of JWT access tokens: every revocation that has
 * not lapsed, from the revocation feed. A JWT's signature and expiry are
 * checked locally; with this view, so is its revocation, without a round
 * trip to the store per request. It is the inverse of the token records the
 * registry keeps (a record removed by a revocation becomes an entry here), so
 * where the view cannot tell, the record still can.
 */
export class JwtRevocationView {
  /** Revoked jtis, and when each entry lapses (epoch seconds). */
  private readonly tokens = new Map<string, number>();
  /** Clients whose tokens issued up to `issuedUntil` are revoked. */
  private readonly clients = new Map<string, { issuedUntil: number; until: number }>();
  private watch: RevocationWatch | undefined;
  private sweepAbove = SWEEP_ABOVE;

  constructor(private readonly feed: RevocationFeed) {}

  /**
   * Starts following the feed now rather than at the first check or
   * issuance: a server does, so that the tokens it issues once the feed is
   * complete are judged from memory from the first request on; tools that
   * never touch a token (the CLI) hold no subscription.
   */
  start(): void {
    this.watching();
  }

  /** From when (epoch seconds) the view can judge tokens, if it can yet; unlike the checks, this does not start it. */
  coveredFrom(): number | undefined {
    return this.watch?.completeFrom();
  }

  private watching(): RevocationWatch {
    this.watch ??= this.feed.watch((revocation) => this.add(revocation));
    return this.watch;
  }

  private add(revocation: TokenRevocation): void {
    if (revocation.kind === 'token') {
      this.tokens.set(revocation.jti, Math.max(revocation.until, this.tokens.get(revocation.jti) ?? 0));
    } else {
      const known = this.clients.get(revocation.clientId);
      this.clients.set(revocation.clientId, {
        issuedUntil: Math.max(revocation.issuedUntil, known?.issuedUntil ?? 0),
        until: Math.max(revocation.until, known?.until ?? 0),
      });
    }
    if (this.tokens.size + this.clients.size > this.sweepAbove) this.sweep();
  }

  private sweep(): void {
    const now = Math.floor(Date.now() / 1000);
    for (const [jti, until] of this.tokens) if (until < now) this.tokens.delete(jti);
    for (const [clientId, { until }] of this.clients) if (until < now) this.clients.delete(clientId);
    this.sweepAbove = Math.max(SWEEP_ABOVE, 2 * (this.tokens.size + this.clients.size));
  }

  /**
   * Whether a verified token was revoked: `true` or `false` when the view
   * knows, `undefined` when it cannot tell, because it is not complete yet
   * (starting, reconnecting) or the token is older than what it covers.
   * An entry that has lapsed needs no check: the token it names has expired.
   */
  revoked(claims: RevocableClaims): boolean | undefined {
    const completeFrom = this.watching().completeFrom();
    const { jti, client_id: clientId, iat } = claims;
    if (completeFrom === undefined || typeof iat !== 'number' || iat < completeFrom) return undefined;
    if (typeof jti !== 'string' || typeof clientId !== 'string') return undefined;
    if (this.tokens.has(jti)) return true;
    const client = this.clients.get(clientId);
    return client !== undefined && iat <= client.issuedUntil;
  }

  /**
   * Whether this view, in this process and in every process after it, can
   * judge a token issued at `iat` on its own, so that the token needs no
   * record: only when the feed outlives processes and already covers `iat`.
   */
  vouchesFor(iat: number): boolean {
    if (!this.feed.persistent) return false;
    const completeFrom = this.watching().completeFrom();
    return completeFrom !== undefined && iat >= completeFrom;
  }

  /**
   * `revoked`, after waiting (at most `timeoutMs`) for the view to be
   * complete: for a token that may have no record to fall back on.
   */
  async revokedOnceComplete(claims: RevocableClaims, timeoutMs: number): Promise<boolean | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); });
    await Promise.race([this.watching().whenComplete(), timeout]);
    clearTimeout(timer);
    return this.revoked(claims);
  }
}
