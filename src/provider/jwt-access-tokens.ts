import type { PayloadStore } from '../../adapters/contract.js';
import { JWT_ACCESS_TOKEN_MODEL } from '../../adapters/tiers.js';
import type { JwtRevocationView, RevocableClaims } from './jwt-revocation-view.js';

export interface JwtAccessTokenRecord {
  clientId: string;
  grantId?: string;
  accountId?: string;
}

/**
 * oidc-provider does not store JWT access tokens. Gatehouse records each one
 * by jti (in the ephemeral tier, for the token's lifetime) so that revoking
 * the token, its grant or its client makes introspection and the resource
 * check refuse it although its signature still verifies. Every revocation
 * that removes a record is also announced to each process's revocation view
 * (adapters/revocation-announcing-store.ts), which answers the common case
 * without a lookup.
 */
export class JwtAccessTokenRegistry {
  constructor(private readonly store: PayloadStore, private readonly view?: JwtRevocationView) {}

  async record(jti: string, record: JwtAccessTokenRecord, expiresAt: number): Promise<void> {
    // A record without a lifetime would never go, and neither would its revocation.
    if (!Number.isFinite(expiresAt)) throw new TypeError(`JWT access token ${jti} has no expiry to record`);
    const ttl = Math.max(1, expiresAt - Math.floor(Date.now() / 1000));
    await this.store.upsert(JWT_ACCESS_TOKEN_MODEL, jti, { ...record }, ttl);
  }

  async find(jti: string): Promise<JwtAccessTokenRecord | undefined> {
    return (await this.store.find(JWT_ACCESS_TOKEN_MODEL, jti)) as JwtAccessTokenRecord | undefined;
  }

  async revoke(jti: string): Promise<void> {
    await this.store.destroy(JWT_ACCESS_TOKEN_MODEL, jti);
  }

  /**
   * Whether a verified JWT access token was revoked, itself, through its
   * grant or through its client: from the view when it can tell (no I/O),
   * otherwise from the token's record (a token without one is revoked).
   */
  isRevoked(claims: RevocableClaims): boolean | Promise<boolean> {
    const known = this.view?.revoked(claims);
    if (known !== undefined) return known;
    if (typeof claims.jti !== 'string') return true;
    return this.find(claims.jti).then((record) => !record);
  }
}
