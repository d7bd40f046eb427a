import { createHash } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { AdapterPayload, PayloadStore } from '../../adapters/contract.js';
import { isEphemeral } from '../../adapters/tiers.js';
import { ACCESS_TOKEN_LENGTH } from '../provider/token-values.js';
import { absentIfRefusedMetadata } from '../errors/provider-error.js';

interface ForeignToken {
  value: string;
  clientId: string;
  scope: string;
  /** Epoch seconds. */
  issuedAt: number;
  expiresAt: number;
  /** What ties it to its refresh token: tokens with the same key share one grant. */
  grantKey: string;
  /** The grant type it was issued by (recorded as the token's `gty`). */
  grantType: string;
}

/** A live access token of the system Gatehouse replaces, kept under its own value. */
export interface ForeignAccessToken extends ForeignToken {
  /** Absent for a client_credentials token. */
  accountId?: string;
}

/** A live refresh token of the system Gatehouse replaces; `expiresAt` is its source's, or one the import gives it. */
export interface ForeignRefreshToken extends ForeignToken {
  accountId: string;
}

export type TokenImportOutcome =
  | { outcome: 'created' | 'updated' | 'unchanged' }
  | { outcome: 'skipped'; reason: string };

/** The provider's token stores, by tier (adapters/tiers.ts), with their bulk operations. */
export interface TokenStores {
  durable: PayloadStore;
  ephemeral: PayloadStore;
}

// The record of each imported token, kept until the token would have
// expired: a token revoked or rotated in Gatehouse since is gone from its
// store, and without this a re-run would bring it back to life. It lives in
// the token's own tier (adapters/tiers.ts): where access tokens are in Redis,
// so are their records, and a Redis lost with its tokens loses both at once.
// Half the rows of a DOT import are access tokens, so this halves the
// records PostgreSQL writes.
const IMPORTED_MODEL = 'ImportedToken';

const now = () => Math.floor(Date.now() / 1000);
const digest = (text: string) => createHash('sha256').update(text).digest('base64url');
const grantIdOf = (grantKey: string) => `imported-${digest(grantKey)}`;

interface Stored extends AdapterPayload { accountId?: string; scope?: string; exp?: number; openid?: { scope?: string } }
interface Entry { id: string; payload: AdapterPayload; expiresIn?: number }
interface BuiltModel { getValueAndPayload(): Promise<{ payload?: AdapterPayload }> }

/** findMany where the store has it; one find per id otherwise. */
async function findMany(store: PayloadStore, model: string, ids: string[]): Promise<Map<string, AdapterPayload>> {
  if (store.findMany) return store.findMany(model, ids);
  const found = new Map<string, AdapterPayload>();
  await Promise.all(ids.map(async (id) => { const payload = await store.find(model, id); if (payload) found.set(id, payload); }));
  return found;
}

async function upsertMany(store: PayloadStore, model: string, entries: Entry[]): Promise<void> {
  if (store.upsertMany) return store.upsertMany(model, entries);
  await Promise.all(entries.map((entry) => store.upsert(model, entry.id, entry.payload, entry.expiresIn)));
}

/**
 * Brings live tokens of a replaced system into the provider's own token
 * stores under their original values, a batch at a time. Each payload is made
 * by oidc-provider's own models (AccessToken, ClientCredentials, RefreshToken,
 * Grant), so the tokens are found, introspected, rotated and revoked exactly
 * like tokens Gatehouse minted; the stores' bulk operations only save round
 * trips. A user's tokens get a Grant, as oidc-provider requires; an access
 * token and the refresh token it came with share one.
 */
export class TokenImportService {
  constructor(private readonly provider: Provider, private readonly stores: TokenStores) {}

  private store(model: string): PayloadStore {
    return isEphemeral(model) ? this.stores.ephemeral : this.stores.durable;
  }

  /** Access tokens (client_credentials ones too, without an account); one outcome per token, in order. */
  async importAccessTokens(tokens: ForeignAccessToken[], { dryRun = false } = {}): Promise<TokenImportOutcome[]> {
    const userTokens = tokens.filter((t) => t.accountId);
    const [users, machines] = await Promise.all([
      findMany(this.store('AccessToken'), 'AccessToken', userTokens.map((t) => t.value)),
      findMany(this.store('ClientCredentials'), 'ClientCredentials', tokens.filter((t) => !t.accountId).map((t) => t.value)),
    ]);
    // AccessToken and ClientCredentials share a tier.
    return this.importBatch(tokens, this.store('AccessToken'), (t) => (t.accountId ? users : machines).get(t.value) as Stored | undefined, true, dryRun,
      (t, grantId) => {
        const Model = t.accountId ? this.provider.AccessToken : this.provider.ClientCredentials;
        const model = new (Model as unknown as new (payload: Record<string, unknown>) => BuiltModel & { format: string })({
          jti: t.value, clientId: t.clientId, scope: t.scope, iat: t.issuedAt, exp: t.expiresAt, gty: t.grantType,
          ...(t.accountId ? { accountId: t.accountId, grantId, expiresWithSession: false } : {}),
        });
        // The value is given, not generated, so oidc-provider has not resolved its format.
        model.format = 'opaque';
        return { model, name: t.accountId ? 'AccessToken' : 'ClientCredentials' };
      });
  }

  /** Refresh tokens; one outcome per token, in order. */
  async importRefreshTokens(tokens: ForeignRefreshToken[], { dryRun = false } = {}): Promise<TokenImportOutcome[]> {
    const existing = await findMany(this.store('RefreshToken'), 'RefreshToken', tokens.map((t) => t.value));
    return this.importBatch(tokens, this.store('RefreshToken'), (t) => existing.get(t.value) as Stored | undefined, false, dryRun,
      (t, grantId) => ({
        name: 'RefreshToken',
        model: new this.provider.RefreshToken({
          jti: t.value, clientId: t.clientId, accountId: t.accountId, grantId, scope: t.scope, iat: t.issuedAt, iiat: t.issuedAt,
          exp: t.expiresAt, gty: t.grantType, rotations: 0, expiresWithSession: false,
        } as never) as unknown as BuiltModel,
      }));
  }

  private async importBatch<T extends ForeignToken & { accountId?: string }>(
    tokens: T[],
    markers: PayloadStore,
    existingOf: (token: T) => Stored | undefined,
    compareExpiry: boolean,
    dryRun: boolean,
    build: (token: T, grantId: string | undefined) => { model: BuiltModel; name: string },
  ): Promise<TokenImportOutcome[]> {
    const imported = await findMany(markers, IMPORTED_MODEL, tokens.map((t) => digest(t.value)));
    const allowed = await this.scopesOfClients(tokens.map((t) => t.clientId));
    const outcomes = tokens.map((token): TokenImportOutcome => {
      // A token never brings a scope its client could not obtain here: in
      // Gatehouse a scope may be a privilege (admin) that the old system's
      // scope of the same name never was.
      // (A dry run has not created the clients it would import: it cannot judge theirs.)
      const own = allowed.get(token.clientId);
      const beyond = own || !dryRun ? token.scope.split(' ').filter((scope) => scope && !own?.has(scope)) : [];
      if (beyond.length) return { outcome: 'skipped', reason: `scope ${beyond.join(' ')} is not among client ${token.clientId}'s scopes in Gatehouse` };
      // See provider/token-values.ts: refresh-token lookups of this length are answered "not found" unasked.
      if (!compareExpiry && token.value.length === ACCESS_TOKEN_LENGTH) {
        return { outcome: 'skipped', reason: `a refresh token of ${ACCESS_TOKEN_LENGTH} characters cannot be told from a Gatehouse access token` };
      }
      if (token.expiresAt <= now()) return { outcome: 'skipped', reason: 'expired' };
      const existing = existingOf(token);
      if (!existing) {
        return imported.has(digest(token.value))
          ? { outcome: 'skipped', reason: 'revoked or rotated in Gatehouse since it was imported' }
          : { outcome: 'created' };
      }
      if (existing.consumed) return { outcome: 'skipped', reason: 'already rotated in Gatehouse' };
      const same = existing.clientId === token.clientId && (existing.accountId ?? undefined) === token.accountId
        && (existing.scope ?? '') === token.scope && (!compareExpiry || existing.exp === token.expiresAt);
      return { outcome: same ? 'unchanged' : 'updated' };
    });
    if (dryRun) return outcomes;

    const writing = tokens.filter((_, i) => outcomes[i]!.outcome === 'created' || outcomes[i]!.outcome === 'updated');
    const grantIds = await this.saveGrants(writing.filter((t) => t.accountId) as Array<T & { accountId: string }>);
    const byModel = new Map<string, Entry[]>();
    for (const token of writing) {
      const { model, name } = build(token, grantIds.get(token.grantKey));
      const { payload } = await model.getValueAndPayload();
      const entries = byModel.get(name) ?? [];
      entries.push({ id: token.value, payload: payload!, expiresIn: token.expiresAt - now() });
      byModel.set(name, entries);
    }
    await Promise.all([...byModel].map(([name, entries]) => upsertMany(this.store(name), name, entries)));
    await upsertMany(markers, IMPORTED_MODEL, writing.map((t) => ({
      id: digest(t.value), payload: { exp: t.expiresAt }, expiresIn: Math.max(1, t.expiresAt - now()),
    })));
    return outcomes;
  }

  /** Each known client's registered scopes, as the provider knows the client. */
  private async scopesOfClients(clientIds: string[]): Promise<Map<string, Set<string>>> {
    const scopes = new Map<string, Set<string>>();
    await Promise.all([...new Set(clientIds)].map(async (clientId) => {
      const client = await this.provider.Client.find(clientId).catch(absentIfRefusedMetadata);
      if (client) scopes.set(clientId, new Set((client.scope ?? '').split(' ').filter(Boolean)));
    }));
    return scopes;
  }

  /**
   * The grant of each token's grant key, kept at least as long as its tokens
   * and with all their scopes; saved only where it is missing or falls short.
   */
  private async saveGrants(tokens: Array<ForeignToken & { accountId: string }>): Promise<Map<string, string>> {
    const ids = new Map<string, string>();
    const wanted = new Map<string, { clientId: string; accountId: string; scopes: Set<string>; exp: number }>();
    for (const token of tokens) {
      ids.set(token.grantKey, grantIdOf(token.grantKey));
      const entry = wanted.get(token.grantKey) ?? { clientId: token.clientId, accountId: token.accountId, scopes: new Set<string>(), exp: 0 };
      for (const scope of token.scope.split(' ')) if (scope) entry.scopes.add(scope);
      entry.exp = Math.max(entry.exp, token.expiresAt);
      wanted.set(token.grantKey, entry);
    }
    const existing = await findMany(this.store('Grant'), 'Grant', [...wanted.keys()].map(grantIdOf));
    const entries: Entry[] = [];
    for (const [key, want] of wanted) {
      const id = grantIdOf(key);
      const stored = existing.get(id) as Stored | undefined;
      const storedScopes = new Set((stored?.openid?.scope ?? '').split(' ').filter(Boolean));
      for (const scope of storedScopes) want.scopes.add(scope);
      const enough = stored && stored.clientId === want.clientId && stored.accountId === want.accountId
        && (stored.exp ?? 0) >= want.exp && storedScopes.size === want.scopes.size;
      if (enough) continue;
      const exp = Math.max(want.exp, stored?.exp ?? 0);
      const grant = new this.provider.Grant({ jti: id, accountId: want.accountId, clientId: want.clientId, exp } as never);
      grant.addOIDCScope([...want.scopes].join(' '));
      const { payload } = await (grant as unknown as BuiltModel).getValueAndPayload();
      entries.push({ id, payload: payload!, expiresIn: exp - now() });
    }
    await upsertMany(this.store('Grant'), 'Grant', entries);
    return ids;
  }
}
