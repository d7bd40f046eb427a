import { randomBytes, randomUUID } from 'node:crypto';
import { type ClientMetadata, type ClientRecord, ClientsStore, DuplicateClientIdError } from '../../adapters/sql/clients-store.js';
import { ConflictError, type FieldProblem, NotFoundError, ValidationError } from '../errors/app-error.js';
import type { ClientTokenStore } from '../../adapters/factory.js';
import type { Actor, AuditLog } from '../audit/log.js';
import type { ScopeRegistry } from '../scopes/registry.js';
import { clientMetadataProblems } from './metadata-rules.js';
import { assertClientChangeable, isReservedClient } from './reserved-clients.js';
import { clampedPaging } from '../paging/parameters.js';

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
}

export interface ClientPatch {
  name?: string;
  description?: string | null;
  scope?: string[];
  redirectUris?: string[];
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
    const clientSecret = input.public ? undefined : randomBytes(32).toString('base64url');
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

  async list(options: { name?: string; page?: number; perPage?: number } = {}): Promise<{ total: number; clients: Client[] }> {
    const { page, perPage } = clampedPaging(options, { defaultPerPage: 100, maxPerPage: 1000 });
    const { total, items } = await this.store.list({ name: options.name, limit: perPage, offset: (page - 1) * perPage });
    return { total, clients: items.map(toClient) };
  }

  /**
   * Changes name, description, scopes or redirect URIs. The client_id and
   * secret never change here: they are not fields of a patch.
   */
  async update(clientId: string, patch: ClientPatch, by: Actor = {}): Promise<Client> {
    assertClientChangeable(clientId);
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
    if (patch.scope !== undefined) metadata.scope = [...new Set(patch.scope)].join(' ');
    if (problems.length) throw new ValidationError(problems);
    // Nothing to change: no write, no audit event, no new updated_at.
    if (JSON.stringify(metadata) === JSON.stringify(record.metadata)) return toClient(record);
    // The whole client after the change goes through the rules, not just the
    // changed fields: a change may break a rule that involves other fields.
    await this.assertAcceptable(metadata, []);
    const updated = await this.store.replace(metadata);
    if (!updated) throw new NotFoundError(`no client with client_id "${clientId}"`);
    await this.audit?.record({ event: 'client.updated', ...by, clientId, detail: { fields: Object.keys(patch).filter((k) => patch[k as keyof ClientPatch] !== undefined) } });
    return toClient(updated);
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
