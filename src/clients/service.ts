import { randomBytes, randomUUID } from 'node:crypto';
import { CLIENT_CACHE_MS, type ClientMetadata, type ClientRecord, type ClientsStore, type ClientTokenStore, ClientChangedError, DuplicateClientIdError } from '../../adapters/contract.js';
import { ConflictError, type FieldProblem, NotFoundError, ValidationError } from '../errors/app-error.js';
import { SecretsKeyError } from '../../adapters/secrets-at-rest.js';
import type { Actor, AuditLog } from '../audit/log.js';
import type { ScopeRegistry } from '../scopes/registry.js';
import { clientMetadataProblems, SKIP_CONSENT } from './metadata-rules.js';
import { type ClientIdentity, clientIdentity } from './client-identity.js';
import { CLIENT_SECRET_MAX_LENGTH, givenSecretProblems } from './given-secrets.js';
import { assertClientChangeable, isReservedClient } from './reserved-clients.js';
import { clampedPaging } from '../paging/parameters.js';
import { hashFormat, isVerifiableHash } from '../accounts/password-hashes.js';
import { CLIENT_DIALECT_LIFETIMES, type DialectLifetimes, SIGNED_DIALECT_LIFETIMES } from '../provider/lifetimes.js';

export { GRANT_TYPES } from './metadata-rules.js';
export type TokenFormat = 'opaque' | 'jwt';

export interface NewClient {
  name: string;
  grantTypes: string[];
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  scope: string[];
  public?: boolean;
  tokenFormat?: TokenFormat;
  clientId?: string;
  description?: string;
  /** RFC 9126: this client must push its authorization requests. */
  requirePushedAuthorizationRequests?: boolean;
  /** OpenID Connect Back-Channel Logout: where logout tokens are POSTed. */
  backchannelLogoutUri?: string;
  /**
   * A secret that already exists elsewhere, instead of a generated one; at
   * least CLIENT_SECRET_MIN_LENGTH characters (a guessable secret is no
   * authentication, RFC 6749 §10.10).
   */
  clientSecret?: string;
}

/** A client as another system had it (Northstar, Lux, LOS, LE Enterprise, django-oauth-toolkit), secret included. */
export interface ImportedClient {
  clientId: string;
  name: string;
  /** In the clear, kept as given (hashed and sealed at rest like any other). */
  clientSecret?: string;
  /**
   * Only a hash of the secret: another system's in a format
   * password-hashes.ts verifies (`pbkdf2_sha256$…`), or this deployment's own
   * (`hmac-sha256.…`, from `export`, same SECRETS_KEY).
   */
  clientSecretHash?: string;
  /** The sealed copy `export` writes (same SECRETS_KEY): opened and kept as a secret in the clear. */
  clientSecretSealed?: string;
  public: boolean;
  grantTypes: string[];
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
  scope: string[];
  tokenFormat?: TokenFormat;
  description?: string;
  /** The old server never asked users to consent to this client (DOT's skip_authorization). */
  skipConsent?: boolean;
  /** Token lifetimes this client had at its old server, used when it calls through a legacy dialect. */
  dialectLifetimes?: DialectLifetimes;
  /** RFC 9126, as `client create --require-par` (so an export of such a client comes back the same). */
  requirePushedAuthorizationRequests?: boolean;
  /** OpenID Connect Back-Channel Logout, as `client create --backchannel-logout-uri`. */
  backchannelLogoutUri?: string;
}

export type ClientImportOutcome =
  | { client: Client; outcome: 'created' | 'updated' | 'unchanged' }
  | { client?: undefined; outcome: 'skipped'; reason: string };


// What decides what a client may obtain and where tokens go: recorded before and after in the audit trail.
const DECISIVE_METADATA = ['scope', 'grant_types', 'redirect_uris', 'post_logout_redirect_uris', 'access_token_format'] as const;

function decisiveChanges(before: ClientMetadata, after: ClientMetadata): Record<string, { from: unknown; to: unknown }> {
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const field of DECISIVE_METADATA) {
    if (JSON.stringify(before[field]) !== JSON.stringify(after[field])) changes[field] = { from: before[field] ?? null, to: after[field] ?? null };
  }
  return changes;
}

/** Whether `after` takes away a scope or a grant type `before` had: what tokens already issued may carry or be renewed by. */
function narrowsWhatTokensCarry(before: ClientMetadata, after: ClientMetadata): boolean {
  const words = (value: unknown) => (typeof value === 'string' ? value.split(' ').filter(Boolean) : Array.isArray(value) ? value.map(String) : []);
  const takesAway = (field: 'scope' | 'grant_types') => {
    const kept = new Set(words(after[field]));
    return words(before[field]).some((item) => !kept.has(item));
  };
  return takesAway('scope') || takesAway('grant_types');
}

/** Attempts at a client update before a concurrent writer is reported instead of merged with. */
const UPDATE_ATTEMPTS = 5;

export interface ClientPatch {
  name?: string;
  description?: string | null;
  scope?: string[];
  redirectUris?: string[];
  grantTypes?: string[];
  tokenFormat?: TokenFormat;
  postLogoutRedirectUris?: string[];
}

export interface Client {
  clientId: string;
  name: string;
  description: string | null;
  grantTypes: string[];
  redirectUris: string[];
  scope: string[];
  public: boolean;
  tokenFormat: TokenFormat;
  createdAt: string;
  updatedAt: string;
}

/** Checks client metadata the way the protocol engine will read it (oidc-provider's Client schema). */
export type MetadataValidator = (metadata: ClientMetadata) => Promise<void>;

const CLIENT_ID = /^[A-Za-z0-9._~-]{1,128}$/;

export function toClient(record: ClientRecord): Client {
  const m = record.metadata;
  return {
    clientId: record.clientId,
    name: String(m.client_name ?? ''),
    description: typeof m.description === 'string' ? m.description : null,
    grantTypes: (m.grant_types as string[] | undefined) ?? [],
    redirectUris: (m.redirect_uris as string[] | undefined) ?? [],
    scope: typeof m.scope === 'string' && m.scope ? m.scope.split(' ') : [],
    public: m.token_endpoint_auth_method === 'none',
    tokenFormat: m.access_token_format === 'jwt' ? 'jwt' : 'opaque',
    createdAt: record.createdAt.toISOString(),
    updatedAt: record.updatedAt.toISOString(),
  };
}

/** The metadata document of an imported client: the fields the old system had, in RFC 7591 names. */
function importedMetadata(input: ImportedClient): ClientMetadata {
  const grantTypes = [...new Set(input.grantTypes ?? [])];
  return {
    client_id: input.clientId,
    client_name: String(input.name ?? '').trim(),
    grant_types: grantTypes,
    response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
    redirect_uris: [...new Set(input.redirectUris ?? [])],
    post_logout_redirect_uris: [...new Set(input.postLogoutRedirectUris ?? [])],
    scope: [...new Set(input.scope ?? [])].join(' '),
    token_endpoint_auth_method: input.public ? 'none' : 'client_secret_basic',
    access_token_format: input.tokenFormat ?? 'opaque',
    ...(input.description ? { description: input.description } : {}),
    ...(input.requirePushedAuthorizationRequests ? { require_pushed_authorization_requests: true } : {}),
    ...(input.backchannelLogoutUri ? { backchannel_logout_uri: input.backchannelLogoutUri } : {}),
    ...(input.skipConsent ? { [SKIP_CONSENT]: true } : {}),
    ...(input.dialectLifetimes && Object.keys(input.dialectLifetimes).length ? { [CLIENT_DIALECT_LIFETIMES]: input.dialectLifetimes } : {}),
  };
}

/** The metadata as compared for "unchanged": without the secret and with keys in one order. */
function comparable(metadata: ClientMetadata): string {
  const { client_secret: _secret, ...rest } = metadata;
  return JSON.stringify(Object.fromEntries(Object.entries(rest).sort(([a], [b]) => a.localeCompare(b))));
}

/** Client registration shared by every admin surface (CLI, admin API, legacy dialects). */
export class ClientService {
  constructor(
    private readonly store: ClientsStore,
    private readonly scopes: ScopeRegistry,
    private readonly validateMetadata: MetadataValidator,
    private readonly tokens: ClientTokenStore,
    private readonly audit?: AuditLog,
  ) {}

  /** Registers a client. The secret is generated here and returned only this once. */
  async create(input: NewClient, by: Actor = {}): Promise<{ client: Client; clientSecret?: string }> {
    if (input.clientId !== undefined) assertClientChangeable(input.clientId);
    const problems: FieldProblem[] = [];
    const name = input.name?.trim();
    if (!name) problems.push({ field: 'name', message: 'is required' });
    if (input.clientId !== undefined && !CLIENT_ID.test(input.clientId)) {
      problems.push({ field: 'client_id', message: 'must be 1-128 characters of letters, digits and . _ ~ -' });
    }
    const grantTypes = [...new Set(input.grantTypes)];
    if (input.tokenFormat !== undefined && input.tokenFormat !== 'opaque' && input.tokenFormat !== 'jwt') {
      problems.push({ field: 'token_format', message: 'must be opaque or jwt' });
    }
    const redirectUris = [...new Set(input.redirectUris ?? [])];
    const scope = [...new Set(input.scope ?? [])];
    if (input.clientSecret !== undefined) problems.push(...givenSecretProblems(input.clientSecret, input.public === true));
    const clientSecret = input.public ? undefined : input.clientSecret ?? randomBytes(32).toString('base64url');
    const metadata: ClientMetadata = {
      client_id: input.clientId ?? randomUUID(),
      client_name: name,
      grant_types: grantTypes,
      response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
      redirect_uris: redirectUris,
      post_logout_redirect_uris: input.postLogoutRedirectUris ?? [],
      scope: scope.join(' '),
      token_endpoint_auth_method: input.public ? 'none' : 'client_secret_basic',
      access_token_format: input.tokenFormat ?? 'opaque',
      ...(clientSecret ? { client_secret: clientSecret } : {}),
      ...(input.description ? { description: input.description } : {}),
      ...(input.requirePushedAuthorizationRequests ? { require_pushed_authorization_requests: true } : {}),
      ...(input.backchannelLogoutUri ? { backchannel_logout_uri: input.backchannelLogoutUri } : {}),
    };
    await this.assertAcceptable(metadata, problems);
    try {
      const record = await this.store.insert(metadata);
      await this.audit?.record({ event: 'client.created', ...by, clientId: record.clientId, detail: { name, grant_types: grantTypes, scope } });
      if (clientSecret) await this.audit?.record({ event: 'client.secret_issued', ...by, clientId: record.clientId });
      return { client: toClient(record), clientSecret };
    } catch (error) {
      if (error instanceof DuplicateClientIdError) {
        throw new ConflictError('client_id', `client_id "${metadata.client_id}" is already registered`);
      }
      throw error;
    }
  }

  async show(clientId: string): Promise<Client> {
    const record = await this.store.find(clientId);
    if (!record) throw new NotFoundError(`no client with client_id "${clientId}"`);
    return toClient(record);
  }

  /** What a page shows of the client (client-identity.ts), or undefined when it is gone. */
  async identity(clientId: string): Promise<ClientIdentity | undefined> {
    const record = await this.store.find(clientId);
    return record && clientIdentity(record.metadata);
  }

  /** A page of clients, oldest first: `name` searches (contains, any case), `nameIs` looks up (exactly). */
  async list(options: { name?: string; nameIs?: string; page?: number; perPage?: number } = {}): Promise<{ total: number; clients: Client[] }> {
    const { page, perPage } = clampedPaging(options, { defaultPerPage: 100, maxPerPage: 1000 });
    const { total, items } = await this.store.list({ name: options.name, nameIs: options.nameIs, limit: perPage, offset: (page - 1) * perPage });
    return { total, clients: items.map(toClient) };
  }

  /** Every client the filter keeps, oldest first, however many pages that takes. */
  async listAll(filter: { name?: string; nameIs?: string } = {}): Promise<Client[]> {
    const all: Client[] = [];
    for (let page = 1; ; page += 1) {
      const { total, clients } = await this.list({ ...filter, page, perPage: 1000 });
      all.push(...clients);
      if (clients.length === 0 || page * 1000 >= total) return all;
    }
  }

  /**
   * Changes name, description, scopes or redirect URIs. The client_id and
   * secret never change here: they are not fields of a patch.
   *
   * The patch is applied to the client as stored and written only if it is
   * still stored so; if another writer came first, it is applied again to
   * what that writer left, so concurrent changes of different fields both
   * hold (a read-modify-write of the whole document lost one of them).
   *
   * Taking a scope or a grant type away ends every grant and token the
   * client holds (RFC 6749 §6: a refresh may not widen what is now
   * authorised; oidc-provider never checks a grant against the client's
   * current scopes again). Its users sign in again; an administrator who
   * removes `admin` knows no token carrying it survives.
   */
  async update(clientId: string, patch: ClientPatch, by: Actor = {}): Promise<Client> {
    assertClientChangeable(clientId);
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.updateOnce(clientId, patch, by);
      } catch (error) {
        if (!(error instanceof ClientChangedError)) throw error;
        if (attempt >= UPDATE_ATTEMPTS) throw new ConflictError('client_id', `client "${clientId}" is being changed by someone else; try again`);
      }
    }
  }

  private async updateOnce(clientId: string, patch: ClientPatch, by: Actor): Promise<Client> {
    const record = await this.store.find(clientId);
    if (!record) throw new NotFoundError(`no client with client_id "${clientId}"`);
    const problems: FieldProblem[] = [];
    const metadata = { ...record.metadata };
    if (patch.name !== undefined) {
      if (!patch.name.trim()) problems.push({ field: 'name', message: 'must not be empty' });
      metadata.client_name = patch.name.trim();
    }
    if (patch.description !== undefined) {
      if (patch.description === null || patch.description === '') delete metadata.description;
      else metadata.description = patch.description;
    }
    if (patch.redirectUris !== undefined) metadata.redirect_uris = [...new Set(patch.redirectUris)];
    if (patch.postLogoutRedirectUris !== undefined) metadata.post_logout_redirect_uris = [...new Set(patch.postLogoutRedirectUris)];
    if (patch.scope !== undefined) metadata.scope = [...new Set(patch.scope)].join(' ');
    if (patch.grantTypes !== undefined) {
      metadata.grant_types = [...new Set(patch.grantTypes)];
      metadata.response_types = patch.grantTypes.includes('authorization_code') ? ['code'] : [];
    }
    if (patch.tokenFormat !== undefined) {
      if (patch.tokenFormat !== 'opaque' && patch.tokenFormat !== 'jwt') problems.push({ field: 'token_format', message: 'must be opaque or jwt' });
      metadata.access_token_format = patch.tokenFormat;
    }
    if (problems.length) throw new ValidationError(problems);
    // Nothing to change: no write, no audit event, no new updated_at.
    if (JSON.stringify(metadata) === JSON.stringify(record.metadata)) return toClient(record);
    // The whole client after the change goes through the rules, not just the
    // changed fields: a change may break a rule that involves other fields.
    await this.assertAcceptable(metadata, []);
    const updated = await this.store.replace(metadata, { ifStill: record.metadata });
    if (!updated) throw new NotFoundError(`no client with client_id "${clientId}"`);
    const tokensEnded = await this.endTokensIfNarrowed(clientId, record.metadata, metadata);
    await this.audit?.record({ event: 'client.updated', ...by, clientId, detail: {
      fields: Object.keys(patch).filter((k) => patch[k as keyof ClientPatch] !== undefined), changes: decisiveChanges(record.metadata, metadata), ...(tokensEnded ? { tokensEnded } : {}),
    } });
    return toClient(updated);
  }

  /**
   * Brings a client across from another system with its client_id and secret
   * as they were, so the client keeps working without a change: created,
   * replaced to match, or left unchanged. The same rules as every other
   * surface (metadata-rules.ts, the reserved-client guard).
   */
  async importClient(input: ImportedClient, options: { dryRun?: boolean } = {}, by: Actor = { actor: 'import' }): Promise<ClientImportOutcome> {
    assertClientChangeable(String(input.clientId));
    const problems: FieldProblem[] = [];
    if (typeof input.clientId !== 'string' || !CLIENT_ID.test(input.clientId)) {
      problems.push({ field: 'client_id', message: 'must be 1-128 characters of letters, digits and . _ ~ -' });
    }
    const metadata = importedMetadata(input);
    if (!metadata.client_name) problems.push({ field: 'name', message: 'is required' });
    if (input.tokenFormat !== undefined && input.tokenFormat !== 'opaque' && input.tokenFormat !== 'jwt') {
      problems.push({ field: 'token_format', message: 'must be opaque or jwt' });
    }
    const given = [input.clientSecret, input.clientSecretHash, input.clientSecretSealed].filter((value) => value !== undefined && value !== '');
    if (input.public && given.length) problems.push({ field: 'client_secret', message: 'a public client has no secret' });
    if (!input.public && given.length !== 1) problems.push({ field: 'client_secret', message: 'a confidential client needs exactly one of client_secret, client_secret_hash, client_secret_sealed' });
    let secret: { plain: string } | { hash: string } | null = null;
    if (!input.public && given.length === 1) {
      if (input.clientSecretSealed) {
        try {
          secret = { plain: this.store.openSealed(input.clientId, input.clientSecretSealed) };
        } catch (error) {
          if (!(error instanceof SecretsKeyError)) throw error;
          problems.push({ field: 'client_secret_sealed', message: 'does not open with this SECRETS_KEY: start with the exporting deployment\'s SECRETS_KEY, or export with --include-secrets' });
        }
      } else if (input.clientSecretHash) {
        if (!this.store.isOwnSecretHash(input.clientSecretHash) && !isVerifiableHash(input.clientSecretHash)) {
          problems.push({ field: 'client_secret_hash', message: `format ${hashFormat(input.clientSecretHash)} cannot be verified (a hash made with another SECRETS_KEY cannot be either)` });
        }
        secret = { hash: input.clientSecretHash };
      } else {
        const plain = String(input.clientSecret);
        // Kept as given: the old system issued it, its client has it. Only what cannot be a secret is refused.
        if (plain.length > CLIENT_SECRET_MAX_LENGTH || /[\s\p{Cc}]/u.test(plain)) {
          problems.push({ field: 'client_secret', message: `must be at most ${CLIENT_SECRET_MAX_LENGTH} characters, without spaces or control characters` });
        }
        secret = { plain };
      }
    }
    if (problems.length) throw new ValidationError(problems.map((p) => ({ ...p, message: `${p.message} (client "${input.clientId}")` })));
    // The engine's schema wants a confidential client's secret in the document; the store keeps it apart.
    await this.assertAcceptable(input.public ? metadata : { ...metadata, client_secret: 'checked-apart' }, []);

    const existing = await this.store.find(input.clientId);
    let outcome: 'created' | 'updated' | 'unchanged' = 'created';
    if (existing) {
      const sameSecret = secret === null ? !existing.metadata.client_secret
        : 'plain' in secret ? await this.store.hasSecret(input.clientId, secret.plain)
          : existing.metadata.client_secret === secret.hash;
      outcome = sameSecret && comparable(existing.metadata) === comparable(metadata) ? 'unchanged' : 'updated';
    }
    if (outcome === 'unchanged') return { client: toClient(existing!), outcome };
    if (options.dryRun) return { client: toClient({ clientId: input.clientId, metadata, createdAt: existing?.createdAt ?? new Date(), updatedAt: new Date() }), outcome };
    const record = await this.store.putImported(metadata, secret);
    const tokensEnded = existing ? await this.endTokensIfNarrowed(record.clientId, existing.metadata, metadata) : false;
    await this.audit?.record({ event: 'client.imported', ...by, clientId: record.clientId, detail: {
      outcome, secret: secret === null ? 'none' : 'plain' in secret ? 'given' : hashFormat(secret.hash), ...(tokensEnded ? { tokensEnded } : {}),
    } });
    return { client: toClient(record), outcome };
  }

  /**
   * Ends every token and grant of a client whose change (written already, so
   * nothing new is minted under the old rules here) took a scope or a grant
   * type away; true if it did. Twice: at once, and again once every process's
   * copy of the client has caught up (ClientsStore: at most CLIENT_CACHE_MS
   * old), for what a process still serving the old client minted meanwhile;
   * the change's caller waits for both, so that when it returns no token
   * carrying what was taken away survives.
   */
  private async endTokensIfNarrowed(clientId: string, before: ClientMetadata, after: ClientMetadata): Promise<boolean> {
    if (!narrowsWhatTokensCarry(before, after)) return false;
    await this.tokens.revokeAll(clientId);
    await new Promise((resolve) => setTimeout(resolve, CLIENT_CACHE_MS + 100));
    await this.tokens.revokeAll(clientId);
    return true;
  }

  /**
   * A new secret for the client, returned only this once. With
   * `graceSeconds` the old one keeps working that long, so a legacy client
   * can be switched over without downtime; without, it stops at once.
   */
  async rotateSecret(clientId: string, graceSeconds = 0, by: Actor = {}, given?: string): Promise<{ client: Client; clientSecret: string; previousValidUntil?: string }> {
    assertClientChangeable(clientId);
    if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > 30 * 86_400) {
      throw new ValidationError([{ field: 'grace', message: 'must be 0 to 2592000 seconds (30 days)' }]);
    }
    const record = await this.store.find(clientId);
    if (!record) throw new NotFoundError(`no client with client_id "${clientId}"`);
    if (record.metadata.token_endpoint_auth_method === 'none') throw new ValidationError([{ field: 'client_secret', message: 'a public client has no secret' }]);
    if (given !== undefined) {
      const problems = givenSecretProblems(given, false);
      if (problems.length) throw new ValidationError(problems);
    }
    const clientSecret = given ?? randomBytes(32).toString('base64url');
    const rotated = await this.store.rotateSecret(clientId, clientSecret, graceSeconds);
    if (!rotated) throw new NotFoundError(`no client with client_id "${clientId}"`);
    const previousValidUntil = graceSeconds > 0 ? (await this.store.previousSecret(clientId))?.until.toISOString() : undefined;
    await this.audit?.record({ event: 'client.secret_rotated', ...by, clientId, detail: { grace_seconds: graceSeconds, ...(previousValidUntil ? { previous_valid_until: previousValidUntil } : {}) } });
    return { client: toClient(rotated), clientSecret, ...(previousValidUntil ? { previousValidUntil } : {}) };
  }

  /** Every client as stored, with its secret as stored (hash, sealed copy), for `export`. */
  async *exportAll(): AsyncGenerator<{ record: ClientRecord; secret: { hash: string | null; sealed: string | null; plain?: string } }> {
    for (let offset = 0; ; offset += 500) {
      const { items } = await this.store.list({ limit: 500, offset });
      for (const record of items) {
        if (isReservedClient(record.clientId)) continue;
        const stored = await this.store.storedSecret(record.clientId);
        yield { record, secret: stored };
      }
      if (items.length < 500) return;
    }
  }

  /**
   * Deletes a client and, with it, every grant, code, refresh token and
   * access token it holds. The row goes first so nothing new can be minted.
   */
  async delete(clientId: string, by: Actor = {}): Promise<void> {
    assertClientChangeable(clientId);
    if (!(await this.store.delete(clientId))) throw new NotFoundError(`no client with client_id "${clientId}"`);
    await this.tokens.revokeAll(clientId);
    await this.audit?.record({ event: 'client.deleted', ...by, clientId });
  }

  /**
   * Whether the client exists, as the protocol's hot path sees it: at most a
   * second old (a deletion here is seen at once, one in another process
   * within that second), so asking on every request costs no round trip.
   */
  async exists(clientId: string): Promise<boolean> {
    return Boolean(await this.store.findCached(clientId));
  }

  /**
   * The longest lifetime any client's own dialect lifetimes give a token
   * that may be a signed JWT (SIGNED_DIALECT_LIFETIMES); 0 when no client
   * has one. Exact, one query: it bounds a signing key's retirement.
   */
  longestOwnSignedLifetime(): Promise<number> {
    return this.store.largestMetadataNumber(CLIENT_DIALECT_LIFETIMES, SIGNED_DIALECT_LIFETIMES);
  }

  /** Live access tokens of the client (opaque, client credentials, recorded JWTs), from the one token store. */
  accessTokenCount(clientId: string): Promise<number> {
    return this.tokens.countAccessTokens(clientId);
  }

  /** Live refresh tokens of the client, from the one token store. */
  refreshTokenCount(clientId: string): Promise<number> {
    return this.tokens.countRefreshTokens(clientId);
  }

  /**
   * The client's secret, for the admin surfaces whose documents show it;
   * never a reserved client's (the dashboard's secret is Gatehouse's own).
   */
  async secretOf(clientId: string): Promise<string | undefined> {
    if (isReservedClient(clientId)) return undefined;
    return this.store.revealSecret(clientId);
  }

  /**
   * The client's metadata against the one rule set (metadata-rules.ts), with
   * the scope registry as it is now, then against the protocol engine's own
   * schema. `problems` are those the caller already found in its input.
   */
  private async assertAcceptable(metadata: ClientMetadata, problems: FieldProblem[]): Promise<void> {
    const registeredScopes = new Set(await this.scopes.names());
    problems.push(...clientMetadataProblems(metadata, { origin: 'administrator', registeredScopes }));
    if (problems.length) throw new ValidationError(problems);
    try {
      await this.validateMetadata(metadata);
    } catch (error) {
      const message = (error as { error_description?: string }).error_description ?? (error as Error).message;
      throw new ValidationError([{ field: 'metadata', message }]);
    }
  }
}
