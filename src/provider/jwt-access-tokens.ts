import { type PayloadStore, type RevocationFeed, UNRECORDED_JWT_MAX_LIFETIME } from '../../adapters/contract.js';
import { JWT_ACCESS_TOKEN_MODEL } from '../../adapters/tiers.js';
import { JwtRevocationView, type RevocableClaims } from './jwt-revocation-view.js';

export interface JwtAccessTokenRecord {
  clientId: string;
  grantId?: string;
  accountId?: string;
}

// How long a check may wait for a starting (or reconnecting) view before it
// refuses a token that has no record; a seed takes two Redis round trips.
const VIEW_WAIT_MS = 2000;

/**
 * oidc-provider does not store JWT access tokens. Gatehouse records each one
 * by jti (in the ephemeral tier, for the token's lifetime) so that revoking
 * the token, its grant or its client makes introspection and the resource
 * check refuse it although its signature still verifies. Every revocation
 * that removes a record is also announced to each process's revocation view
 * (adapters/revocation-announcing-store.ts), which answers the common case
 * without a lookup.
 *
 * A token without a grant (client_credentials) can only be revoked by
 * itself or through its client, and both are announced whether or not it
 * has a record. So when the feed outlives processes (Redis) and already
 * covers the token, it is not recorded at all: the view judges it, in every
 * process, from the feed.
 */
export class JwtAccessTokenRegistry {
  private readonly view: JwtRevocationView | undefined;

  constructor(private readonly store: PayloadStore, private readonly feed?: RevocationFeed) {
    this.view = feed && new JwtRevocationView(feed);
  }

  /** Follows the revocation feed from now on (a server, at start-up; see JwtRevocationView.start). */
  watchRevocations(): void {
    this.view?.start();
  }

  /** From when the revocation view judges tokens without their records, once it does (see JwtRevocationView.coveredFrom). */
  revocationsCoveredFrom(): number | undefined {
    return this.view?.coveredFrom();
  }

  async record(jti: string, record: JwtAccessTokenRecord, issuedAt: number, expiresAt: number): Promise<void> {
    // A record without a lifetime would never go, and neither would its revocation.
    if (!Number.isFinite(expiresAt)) throw new TypeError(`JWT access token ${jti} has no expiry to record`);
    if (record.grantId === undefined && expiresAt - issuedAt <= UNRECORDED_JWT_MAX_LIFETIME && this.view?.vouchesFor(issuedAt)) return;
    const ttl = Math.max(1, expiresAt - Math.floor(Date.now() / 1000));
    await this.store.upsert(JWT_ACCESS_TOKEN_MODEL, jti, { ...record }, ttl);
  }

  async find(jti: string): Promise<JwtAccessTokenRecord | undefined> {
    return (await this.store.find(JWT_ACCESS_TOKEN_MODEL, jti)) as JwtAccessTokenRecord | undefined;
  }

  /** RFC 7009: revokes one token, recorded or not, until it would have expired. */
  async revoke(jti: string, expiresAt: number): Promise<void> {
    // A token that was never recorded has no record whose removal the store
    // could announce; announcing it here too, for one that has, is harmless.
    if (this.feed?.persistent) await this.feed.publish([{ kind: 'token', jti, until: expiresAt }]);
    await this.store.destroy(JWT_ACCESS_TOKEN_MODEL, jti);
  }

  /**
   * Whether a verified JWT access token was revoked, itself, through its
   * grant or through its client: from the view when it can tell (no I/O),
   * otherwise from the token's record (a token without one is revoked,
   * unless the view, once complete, vouches for it).
   */
  isRevoked(claims: RevocableClaims): boolean | Promise<boolean> {
    const view = this.view;
    const known = view?.revoked(claims);
    if (known !== undefined) return known;
    if (typeof claims.jti !== 'string') return true;
    return this.find(claims.jti).then(async (record) => {
      if (record) return false;
      if (!view || !this.feed?.persistent) return true;
      return (await view.revokedOnceComplete(claims, VIEW_WAIT_MS)) ?? true;
    });
  }
}
