import { randomBytes, randomUUID } from 'node:crypto';
import {
  CLIENT_CACHE_MS, type ClientMetadata, type ClientRecord, type ClientsStore, type ClientTokenStore, ClientChangedError, DuplicateClientIdError, type SourceFingerprint,
} from '../../adapters/contract.js';
import { changedSinceSeen, ConflictError, type FieldProblem, NotFoundError, StaleWriteError, ValidationError } from '../errors/app-error.js';
import { SecretsKeyError } from '../../adapters/secrets-at-rest.js';
import type { Actor, AuditLog } from '../audit/log.js';
import type { ScopeRegistry } from '../scopes/registry.js';
import { clientMetadataProblems, type RuleContext, SKIP_CONSENT } from './metadata-rules.js';
import { type ClientIdentity, clientIdentity } from './client-identity.js';
import { CLIENT_SECRET_MAX_LENGTH, givenSecretProblems } from './given-secrets.js';
import { assertClientChangeable, isReservedClient } from './reserved-clients.js';
import { applicationTypeOf } from './redirect-uris.js';
import { clampedPaging } from '../paging/parameters.js';
import { hashFormat, isVerifiableHash } from '../accounts/password-hashes.js';
import { CLIENT_DIALECT_LIFETIMES, type DialectLifetimes, SIGNED_DIALECT_LIFETIMES } from '../provider/lifetimes.js';
import { changedAtSource, type ImportOptions, UNNAMED_SOURCE } from '../import/source-changes.js';

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

/**
 * What an import did to one client. `fields`: the metadata fields it wrote
 * (`client_secret` for the secret), those that changed at the source since
 * the last import; a change made in Gatehouse to any other is kept.
 */
export type ClientImportOutcome =
  | { client: Client; outcome: 'created' | 'updated' | 'unchanged'; fields: string[] }
  | { client?: undefined; outcome: 'skipped'; reason: string };

/** Why an import leaves out a client it brought across before. */
export const DELETED_SINCE_IMPORT = 'deleted in Gatehouse after an earlier import: an import does not bring it back (client create --client-id takes it up again)';

// Changes recorded before and after in the audit trail: what decides what a
// client may obtain and where tokens go, and what users are shown of it.
const RECORDED_METADATA = ['client_name', 'description', 'scope', 'grant_types', 'redirect_uris', 'post_logout_redirect_uris', 'access_token_format'] as const;

// Lists whose order means nothing: the same members are the same value.
const SET_VALUED = new Set(['scope', 'grant_types', 'response_types', 'redirect_uris', 'post_logout_redirect_uris']);

/** A metadata field's value in one form for comparison: lists (and the space-separated scope) as sorted sets, objects with sorted keys. */
function canonicalValue(field: string, value: unknown): string {
  if (value === undefined || value === null) return '-';
  if (SET_VALUED.has(field)) {
    const members = typeof value === 'string' ? value.split(' ').filter(Boolean) : Array.isArray(value) ? value.map(String) : [String(value)];
    return JSON.stringify([...new Set(members)].sort());
  }
  if (typeof value === 'object' && !Array.isArray(value)) return JSON.stringify(Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b))));
  return JSON.stringify(value);
}

function sameValue(field: string, a: unknown, b: unknown): boolean {
  return canonicalValue(field, a) === canonicalValue(field, b);
}

function recordedChanges(before: ClientMetadata, after: ClientMetadata): Record<string, { from: unknown; to: unknown }> {
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const field of RECORDED_METADATA) {
    if (!sameValue(field, before[field], after[field])) changes[field] = { from: before[field] ?? null, to: after[field] ?? null };
  }
  return changes;
}

/** The metadata fields an import sets from its source, each compared on its own between runs. */
const IMPORTED_METADATA = [
  'client_name', 'description', 'token_endpoint_auth_method', 'grant_types', 'redirect_uris', 'post_logout_redirect_uris', 'scope',
  'access_token_format', 'require_pushed_authorization_requests', 'backchannel_logout_uri', SKIP_CONSENT, CLIENT_DIALECT_LIFETIMES,
] as const;
const SECRET_FIELD = 'client_secret';

type ImportedSecret = { plain: string } | { hash: string } | null;

/** What the source says of a client, field by field, in the form fingerprinted (the secret as given: the store keys its digest). */
function sourceFields(metadata: ClientMetadata, secret: ImportedSecret): Record<string, string> {
  const fields: Record<string, string> = Object.fromEntries(IMPORTED_METADATA.map((field) => [field, canonicalValue(field, metadata[field])]));
  fields[SECRET_FIELD] = secret === null ? '-' : 'plain' in secret ? `plain:${secret.plain}` : `hash:${secret.hash}`;
  return fields;
}

/**
 * The fields whose digest differs from the last import's. A field the last
 * import did not fingerprint (added by a later Gatehouse) counts as
 * unchanged: nothing is known of it, so nothing is undone.
 */
function fieldsChangedAtSource(previous: SourceFingerprint, current: SourceFingerprint): string[] {
  return Object.keys(current).filter((field) => changedAtSource(previous, current, field));
}

/** `current` with the source's value of each of `fields`; a field the source no longer has is removed. */
function withSourceFields(current: ClientMetadata, source: ClientMetadata, fields: string[]): ClientMetadata {
  const next: ClientMetadata = { ...current };
  for (const field of fields) {
    if (field === SECRET_FIELD) continue;
    if (source[field] === undefined) delete next[field];
    else next[field] = source[field];
    if (field === 'grant_types') next.response_types = source.response_types;
  }
  return next;
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

/** The metadata field each patch field sets. */
const PATCHED_METADATA: Record<keyof ClientPatch, string> = {
  name: 'client_name', description: 'description', scope: 'scope', redirectUris: 'redirect_uris', grantTypes: 'grant_types',
  tokenFormat: 'access_token_format', postLogoutRedirectUris: 'post_logout_redirect_uris',
};

/**
 * Of the fields a change writes, those whose value in `now` (the client as
 * stored) differs from `seen` (as the caller saw it when deciding the
 * change): lists as sets, fields a Client does not show left out.
 */
function fieldsChangedSince(seen: Client, now: Client, fields: ReadonlyArray<keyof ClientPatch>): string[] {
  const shown = (value: unknown) => JSON.stringify(Array.isArray(value) ? [...value].sort() : value);
  return fields.filter((key) => key in now && shown(seen[key as keyof Client]) !== shown(now[key as keyof Client]));
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

/** One checked source row on its way in: what it says, and how the run goes. */
interface SourceRow {
  metadata: ClientMetadata;
  secret: ImportedSecret;
  dryRun: boolean;
  by: Actor;
  /** Records what the source said, once the client is written (never in a dry run). */
  remember(): Promise<void>;
}

/** How an imported secret was given, for the audit trail (never the secret). */
function secretKind(secret: ImportedSecret): string {
  return secret === null ? 'none' : 'plain' in secret ? 'given' : hashFormat(secret.hash);
}

/** The fields where a client differs from what the source says (the secret excepted: see importClient). */
function differingFields(current: ClientMetadata, source: ClientMetadata): string[] {
  return IMPORTED_METADATA.filter((field) => !sameValue(field, current[field], source[field]));
}

/** Client registration shared by every admin surface (CLI, admin API, legacy dialects). */
export class ClientService {
  constructor(
    private readonly store: ClientsStore,
    private readonly scopes: ScopeRegistry,
    private readonly validateMetadata: MetadataValidator,
    private readonly tokens: ClientTokenStore,
    private readonly audit?: AuditLog,
    /** ALLOW_LOOPBACK_CALLBACKS (development only): URIs the server calls may name this machine (metadata-rules.ts). */
    private readonly options: Pick<RuleContext, 'allowLoopbackCallbacks'> = {},
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
  async update(clientId: string, patch: ClientPatch, by: Actor = {}, { asSeen }: { asSeen?: Client } = {}): Promise<Client> {
    assertClientChangeable(clientId);
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.updateOnce(clientId, patch, by, asSeen);
      } catch (error) {
        if (!(error instanceof ClientChangedError)) throw error;
        if (attempt >= UPDATE_ATTEMPTS) throw new StaleWriteError('client_id', `client "${clientId}" is being changed by someone else; try again`);
      }
    }
  }

  private async updateOnce(clientId: string, patch: ClientPatch, by: Actor, asSeen: Client | undefined): Promise<Client> {
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
    // A list given in another order is the same list: the stored one is kept, so a reorder writes nothing.
    const setList = (field: string, value: unknown) => { if (!sameValue(field, metadata[field], value)) metadata[field] = value; };
    if (patch.redirectUris !== undefined) setList('redirect_uris', [...new Set(patch.redirectUris)]);
    if (patch.postLogoutRedirectUris !== undefined) setList('post_logout_redirect_uris', [...new Set(patch.postLogoutRedirectUris)]);
    if (patch.scope !== undefined) setList('scope', [...new Set(patch.scope)].join(' '));
    if (patch.grantTypes !== undefined) {
      setList('grant_types', [...new Set(patch.grantTypes)]);
      setList('response_types', patch.grantTypes.includes('authorization_code') ? ['code'] : []);
    }
    if (patch.tokenFormat !== undefined) {
      if (patch.tokenFormat !== 'opaque' && patch.tokenFormat !== 'jwt') problems.push({ field: 'token_format', message: 'must be opaque or jwt' });
      metadata.access_token_format = patch.tokenFormat;
    }
    if (problems.length) throw new ValidationError(problems);
    // Nothing to change: no write, no audit event, no new updated_at.
    if (JSON.stringify(metadata) === JSON.stringify(record.metadata)) return toClient(record);
    // A field this change sets that someone else changed since the caller saw it: the caller's change is a conflict, not applied over theirs.
    const fields = (Object.keys(PATCHED_METADATA) as Array<keyof ClientPatch>)
      .filter((key) => patch[key] !== undefined && !sameValue(PATCHED_METADATA[key], record.metadata[PATCHED_METADATA[key]], metadata[PATCHED_METADATA[key]]));
    const changedSince = asSeen ? fieldsChangedSince(asSeen, toClient(record), fields) : [];
    if (changedSince.length) throw changedSinceSeen(changedSince);
    // The whole client after the change goes through the rules, not just the
    // changed fields: a change may break a rule that involves other fields.
    await this.assertAcceptable(metadata, []);
    // The patch never changes the secret: the one read back is not written over one changed since.
    const updated = await this.store.replace(metadata, { ifStill: record.metadata, keepSecret: true });
    if (!updated) throw new NotFoundError(`no client with client_id "${clientId}"`);
    const tokensEnded = await this.endTokensIfNarrowed(clientId, record.metadata, metadata);
    await this.audit?.record({ event: 'client.updated', ...by, clientId, detail: {
      fields, changes: recordedChanges(record.metadata, metadata), ...(tokensEnded ? { tokensEnded } : {}),
    } });
    return toClient(updated);
  }

  /**
   * Brings a client across from another system with its client_id and secret
   * as they were, so the client keeps working without a change. The same
   * rules as every other surface (metadata-rules.ts, the reserved-client
   * guard). What is written is decided against what the source said at the
   * last import (ClientsStore.sourceFingerprints), never against the client
   * as it is now, so a change made in Gatehouse since (a rotated secret, a
   * narrowed scope, a new description) is never undone by a re-run:
   *
   * - never imported: `created`, whole;
   * - the source unchanged since the last import: `unchanged`, nothing written;
   * - changed at the source: only the fields that changed there are written
   *   onto the client as it is now (`updated`, with `fields`);
   * - imported before, deleted in Gatehouse since: `skipped`, not brought back;
   * - in Gatehouse but never fingerprinted (imported before fingerprints were
   *   kept, or registered here under this client_id): `unchanged`, nothing
   *   written; the source as it is now is recorded, so that its later changes
   *   are imported. Not knowing what the source said before, an import
   *   cannot tell a change made here from one made there, and keeps the client.
   *
   * "The last import" is the last by the same source (`options.source`, the
   * import's name): each source's fingerprints are its own.
   *
   * A dry run answers the same and writes nothing, fingerprints included.
   */
  async importClient(input: ImportedClient, options: ImportOptions = {}, by: Actor = { actor: 'import' }): Promise<ClientImportOutcome> {
    const { metadata, secret } = await this.checkImported(input);
    const sources = this.store.sourceFingerprints;
    const source = options.source ?? UNNAMED_SOURCE;
    const fingerprint = sources.digest(sourceFields(metadata, secret));
    const [existing, previous] = await Promise.all([this.store.find(input.clientId), sources.find(source, [input.clientId])]);
    const before = previous.get(input.clientId);
    const row: SourceRow = {
      metadata, secret, dryRun: options.dryRun === true, by,
      remember: async () => { if (!options.dryRun) await sources.record(source, [{ key: input.clientId, fingerprint }]); },
    };
    if (!existing) return before ? { outcome: 'skipped', reason: DELETED_SINCE_IMPORT } : this.createImported(row);
    if (!before) return this.adoptImported(existing, row);
    return this.applySourceChanges(existing, fieldsChangedAtSource(before, fingerprint), row);
  }

  /** A client the source has and Gatehouse never had: created whole. */
  private async createImported({ metadata, secret, dryRun, by, remember }: SourceRow): Promise<ClientImportOutcome> {
    const fields = [...IMPORTED_METADATA.filter((field) => metadata[field] !== undefined), ...(secret ? [SECRET_FIELD] : [])];
    if (dryRun) return { client: toClient({ clientId: metadata.client_id, metadata, createdAt: new Date(), updatedAt: new Date() }), outcome: 'created', fields };
    const record = await this.store.putImported(metadata, secret);
    await remember();
    await this.audit?.record({ event: 'client.imported', ...by, clientId: record.clientId, detail: { outcome: 'created', secret: secretKind(secret) } });
    return { client: toClient(record), outcome: 'created', fields };
  }

  /**
   * A client in Gatehouse that no import fingerprinted: kept as it is, and
   * the source recorded from now on; where they differ, the audit trail
   * names the fields kept.
   */
  private async adoptImported(existing: ClientRecord, { metadata, secret, dryRun, by, remember }: SourceRow): Promise<ClientImportOutcome> {
    await remember();
    const kept = await this.differingFrom(existing, metadata, secret);
    if (kept.length && !dryRun) await this.audit?.record({ event: 'client.import_adopted', ...by, clientId: existing.clientId, detail: { kept } });
    return { client: toClient(existing), outcome: 'unchanged', fields: [] };
  }

  /** The source's values of the fields that `changed` there, written onto the client as Gatehouse has it now. */
  private async applySourceChanges(existing: ClientRecord, changed: string[], { metadata, secret, dryRun, by, remember }: SourceRow): Promise<ClientImportOutcome> {
    if (!changed.length) return { client: toClient(existing), outcome: 'unchanged', fields: [] };
    const clientId = existing.clientId;
    const next = withSourceFields(existing.metadata, metadata, changed);
    const newSecret = changed.includes(SECRET_FIELD);
    const fields = [...IMPORTED_METADATA.filter((field) => changed.includes(field) && !sameValue(field, existing.metadata[field], next[field])), ...(newSecret ? [SECRET_FIELD] : [])];
    // The engine's schema wants a confidential client's secret in the document; the store keeps it apart.
    const { client_secret: storedSecret, ...document } = next;
    const confidential = document.token_endpoint_auth_method !== 'none';
    try {
      await this.assertAcceptable(confidential ? { ...document, client_secret: 'checked-apart' } : document, []);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      throw new ValidationError(error.fields.map((p) => ({ ...p, message: `${p.message} (client "${clientId}": its changes at the source applied to it as changed in Gatehouse)` })));
    }
    if (confidential && !newSecret && !storedSecret) {
      throw new ValidationError([{ field: 'client_secret', message: `the client has no secret in Gatehouse and the source's did not change (client "${clientId}")` }]);
    }
    if (!fields.length) {
      await remember();
      return { client: toClient(existing), outcome: 'unchanged', fields };
    }
    if (dryRun) return { client: toClient({ ...existing, metadata: next, updatedAt: new Date() }), outcome: 'updated', fields };
    const record = newSecret ? await this.store.putImported(document as ClientMetadata, confidential ? secret : null) : await this.replaceImported(existing, next);
    await remember();
    const tokensEnded = await this.endTokensIfNarrowed(clientId, existing.metadata, next);
    await this.audit?.record({ event: 'client.imported', ...by, clientId, detail: {
      outcome: 'updated', fields, changes: recordedChanges(existing.metadata, next), ...(newSecret ? { secret: secretKind(secret) } : {}), ...(tokensEnded ? { tokensEnded } : {}),
    } });
    return { client: toClient(record), outcome: 'updated', fields };
  }

  /** The client's new metadata, its secret kept, only while no one else changed it since it was read. */
  private async replaceImported(existing: ClientRecord, next: ClientMetadata): Promise<ClientRecord> {
    try {
      const record = await this.store.replace(next, { ifStill: existing.metadata, keepSecret: true });
      if (record) return record;
    } catch (error) {
      if (!(error instanceof ClientChangedError)) throw error;
    }
    throw new ConflictError('client_id', `client "${existing.clientId}" was changed or deleted during the import; run it again`);
  }

  /** The fields (and the secret) where a client in Gatehouse differs from what the source says. */
  private async differingFrom(existing: ClientRecord, source: ClientMetadata, secret: ImportedSecret): Promise<string[]> {
    const stored = existing.metadata.client_secret;
    const sameSecret = secret === null ? !stored
      : 'plain' in secret ? await this.store.hasSecret(existing.clientId, secret.plain)
        : stored === secret.hash;
    return [...differingFields(existing.metadata, source), ...(sameSecret ? [] : [SECRET_FIELD])];
  }

  /** An imported client's metadata and secret, or the ValidationError naming every problem (nothing is looked up or written). */
  private async checkImported(input: ImportedClient): Promise<{ metadata: ClientMetadata; secret: ImportedSecret }> {
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
    let secret: ImportedSecret = null;
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
    return { metadata, secret };
  }

  /**
   * For a change the client made to itself through the provider (RFC 7592
   * §2.2, which does not come through `update`): ends every grant and token
   * the client holds if the change took a scope or a grant type away from
   * what it had (`before`, as read before the change), as `update` does.
   */
  async endTokensIfNarrowedSince(clientId: string, before: Client): Promise<boolean> {
    const record = await this.store.find(clientId);
    if (!record) return false;
    const had = { client_id: clientId, scope: before.scope.join(' '), grant_types: before.grantTypes };
    // Its registration access token stays: the registrant, who made the change, still manages the client.
    return this.endTokensIfNarrowed(clientId, had, record.metadata, { keepRegistration: true });
  }

  /**
   * Ends every token and grant of a client whose change (written already, so
   * nothing new is minted under the old rules here) took a scope or a grant
   * type away; true if it did. Twice: at once, and again once every process's
   * copy of the client has caught up (ClientsStore: at most CLIENT_CACHE_MS
   * old), for what a process still serving the old client minted meanwhile;
   * the change's caller waits for both, so that when it returns no token
   * carrying what was taken away survives. An administrator's narrowing
   * ends the client's registration access token too (the registrant may be
   * whom it is against, and could widen the client again); the client's own
   * (`keepRegistration`) keeps it.
   */
  private async endTokensIfNarrowed(clientId: string, before: ClientMetadata, after: ClientMetadata, options: { keepRegistration?: boolean } = {}): Promise<boolean> {
    if (!narrowsWhatTokensCarry(before, after)) return false;
    await this.tokens.revokeAll(clientId, options);
    await new Promise((resolve) => setTimeout(resolve, CLIENT_CACHE_MS + 100));
    await this.tokens.revokeAll(clientId, options);
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

  /**
   * The lazy migration accounts have at sign-in, for client secrets: a
   * secret imported only as another system's hash (slow by design: Django's
   * pbkdf2 costs about 150 ms a check) is replaced by this deployment's own
   * keyed hash once a request has proved it right, so later wrong guesses
   * cost microseconds rather than a thread-pool thread each, and the
   * client's check takes the time any other client's does.
   */
  async adoptProvenSecret(clientId: string, importedHash: string, secret: string): Promise<void> {
    if (!(await this.store.replaceImportedSecretHash(clientId, importedHash, secret))) return;
    await this.audit?.record({ event: 'client.secret_rehashed', actor: `client:${clientId}`, clientId, detail: { from: hashFormat(importedHash), to: 'hmac-sha256' } });
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
    problems.push(...clientMetadataProblems(metadata, { origin: 'administrator', registeredScopes, ...this.options }));
    if (problems.length) throw new ValidationError(problems);
    try {
      // Judged as the provider will read it (provider/client-application-type.ts).
      await this.validateMetadata({ ...metadata, application_type: applicationTypeOf(metadata) });
    } catch (error) {
      const message = (error as { error_description?: string }).error_description ?? (error as Error).message;
      throw new ValidationError([{ field: 'metadata', message }]);
    }
  }
}
