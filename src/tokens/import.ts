import { createHash } from 'node:crypto';
import type { AdapterFactory } from 'oidc-provider';
import type Provider from 'oidc-provider';
import { ACCESS_TOKEN_LENGTH } from '../provider/token-values.js';

/** A live access token of the system Gatehouse replaces, kept under its own value. */
export interface ForeignAccessToken {
  value: string;
  clientId: string;
  /** Absent for a client_credentials token. */
  accountId?: string;
  scope: string;
  /** Epoch seconds. */
  issuedAt: number;
  expiresAt: number;
  /** What ties it to its refresh token: tokens with the same key share one grant. */
  grantKey: string;
  /** The grant type it was issued by (recorded as the token's `gty`). */
  grantType: string;
}

/** A live refresh token of the system Gatehouse replaces. */
export interface ForeignRefreshToken {
  value: string;
  clientId: string;
  accountId: string;
  scope: string;
  issuedAt: number;
  /** Epoch seconds: the source's own expiry, or one the import gives it. */
  expiresAt: number;
  grantKey: string;
  grantType: string;
}

export type TokenImportOutcome =
  | { outcome: 'created' | 'updated' | 'unchanged' }
  | { outcome: 'skipped'; reason: string };

// The record of each imported token, kept (durable tier) until the token
// would have expired: a token revoked or rotated in Gatehouse since is gone
// from its store, and without this a re-run would bring it back to life.
const IMPORTED_MODEL = 'ImportedToken';

const now = () => Math.floor(Date.now() / 1000);
const digest = (text: string) => createHash('sha256').update(text).digest('base64url');

// AccessToken and ClientCredentials, as far as the import uses them.
interface TokenModel {
  find(value: string): Promise<unknown>;
  new (payload: Record<string, unknown>): { format: string; save(): Promise<string> };
}

interface Stored { clientId?: string; accountId?: string; scope?: string; exp?: number; consumed?: unknown }

/**
 * Brings live tokens of a replaced system into the provider's own token
 * stores under their original values, through oidc-provider's models (so they
 * are stored, found, introspected, rotated and revoked exactly like tokens
 * Gatehouse minted). A user's tokens get a Grant, as oidc-provider requires;
 * an access token and the refresh token it came with share one.
 */
export class TokenImportService {
  private readonly imported;

  constructor(private readonly provider: Provider, adapter: AdapterFactory) {
    this.imported = adapter(IMPORTED_MODEL);
  }

  async importAccessToken(token: ForeignAccessToken, { dryRun = false } = {}): Promise<TokenImportOutcome> {
    if (token.expiresAt <= now()) return { outcome: 'skipped', reason: 'expired' };
    const Model = (token.accountId ? this.provider.AccessToken : this.provider.ClientCredentials) as unknown as TokenModel;
    const existing = await Model.find(token.value) as Stored | undefined;
    const change = await this.judge(token.value, existing, token, true);
    if (change.outcome === 'skipped' || change.outcome === 'unchanged' || dryRun) return change;

    const grantId = token.accountId ? await this.saveGrant(token, token.accountId) : undefined;
    const model = new Model({
      jti: token.value, clientId: token.clientId, scope: token.scope, iat: token.issuedAt, exp: token.expiresAt,
      gty: token.grantType, ...(token.accountId ? { accountId: token.accountId, grantId, expiresWithSession: false } : {}),
    });
    // The value is given, not generated, so the format is not resolved by oidc-provider.
    model.format = 'opaque';
    await model.save();
    await this.remember(token.value, token.expiresAt);
    return change;
  }

  async importRefreshToken(token: ForeignRefreshToken, { dryRun = false } = {}): Promise<TokenImportOutcome> {
    // See provider/token-values.ts: lookups of this length are answered "not found" unasked.
    if (token.value.length === ACCESS_TOKEN_LENGTH) {
      return { outcome: 'skipped', reason: `a refresh token of ${ACCESS_TOKEN_LENGTH} characters cannot be told from a Gatehouse access token` };
    }
    if (token.expiresAt <= now()) return { outcome: 'skipped', reason: 'expired' };
    const existing = await this.provider.RefreshToken.find(token.value, { ignoreExpiration: true }) as Stored | undefined;
    if (existing?.consumed) return { outcome: 'skipped', reason: 'already rotated in Gatehouse' };
    // A refresh token's expiry is the import's own choice: unchanged if the rest is.
    const change = await this.judge(token.value, existing, token, false);
    if (change.outcome === 'skipped' || change.outcome === 'unchanged' || dryRun) return change;

    const grantId = await this.saveGrant(token, token.accountId);
    const model = new this.provider.RefreshToken({
      jti: token.value, clientId: token.clientId, accountId: token.accountId, grantId, scope: token.scope,
      iat: token.issuedAt, iiat: token.issuedAt, exp: token.expiresAt, gty: token.grantType, rotations: 0, expiresWithSession: false,
    } as never);
    await model.save();
    await this.remember(token.value, token.expiresAt);
    return change;
  }

  private async judge(value: string, existing: Stored | undefined, token: ForeignAccessToken | ForeignRefreshToken, compareExpiry: boolean): Promise<TokenImportOutcome> {
    if (!existing) {
      return await this.imported.find(digest(value))
        ? { outcome: 'skipped', reason: 'revoked or rotated in Gatehouse since it was imported' }
        : { outcome: 'created' };
    }
    const same = existing.clientId === token.clientId && (existing.accountId ?? undefined) === token.accountId
      && (existing.scope ?? '') === token.scope && (!compareExpiry || existing.exp === token.expiresAt);
    return { outcome: same ? 'unchanged' : 'updated' };
  }

  /** The grant a token belongs to, kept at least as long as the token. */
  private async saveGrant(token: ForeignAccessToken | ForeignRefreshToken, accountId: string): Promise<string> {
    const jti = `imported-${digest(token.grantKey)}`;
    const existing = await this.provider.Grant.find(jti, { ignoreExpiration: true }) as (Stored & { accountId?: string; clientId?: string }) | undefined;
    const scopes = new Set(token.scope.split(' ').filter(Boolean));
    const current = existing as unknown as { getOIDCScope?(): string } | undefined;
    for (const scope of current?.getOIDCScope?.().split(' ') ?? []) if (scope) scopes.add(scope);
    const exp = Math.max(existing?.exp ?? 0, token.expiresAt);
    const unchanged = existing && existing.clientId === token.clientId && existing.accountId === accountId
      && existing.exp === exp && current?.getOIDCScope?.().split(' ').length === scopes.size;
    if (unchanged) return jti;
    const grant = new this.provider.Grant({ jti, accountId, clientId: token.clientId, exp } as never);
    grant.addOIDCScope([...scopes].join(' '));
    await grant.save();
    return jti;
  }

  private async remember(value: string, expiresAt: number): Promise<void> {
    const key = digest(value);
    await this.imported.upsert(key, { jti: key, kind: IMPORTED_MODEL, exp: expiresAt } as never, Math.max(1, expiresAt - now()));
  }
}
