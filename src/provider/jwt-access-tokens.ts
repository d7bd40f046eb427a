import type { PayloadStore } from '../../adapters/contract.js';
import { JWT_ACCESS_TOKEN_MODEL } from '../../adapters/tiers.js';

export interface JwtAccessTokenRecord {
  clientId: string;
  grantId?: string;
  accountId?: string;
}

/**
 * oidc-provider does not store JWT access tokens. Gatehouse records each one
 * by jti (in the ephemeral tier, for the token's lifetime) so that revoking
 * the token, its grant or its client makes introspection and the resource
 * check refuse it although its signature still verifies.
 */
export class JwtAccessTokenRegistry {
  constructor(private readonly store: PayloadStore) {}

  async record(jti: string, record: JwtAccessTokenRecord, expiresAt: number): Promise<void> {
    const ttl = Math.max(1, expiresAt - Math.floor(Date.now() / 1000));
    await this.store.upsert(JWT_ACCESS_TOKEN_MODEL, jti, { ...record }, ttl);
  }

  async find(jti: string): Promise<JwtAccessTokenRecord | undefined> {
    return (await this.store.find(JWT_ACCESS_TOKEN_MODEL, jti)) as JwtAccessTokenRecord | undefined;
  }

  async revoke(jti: string): Promise<void> {
    await this.store.destroy(JWT_ACCESS_TOKEN_MODEL, jti);
  }
}
