import { randomBytes, randomUUID } from 'node:crypto';
import { type ClientMetadata, type ClientRecord, ClientsStore, DuplicateClientIdError } from '../../adapters/sql/clients-store.js';
import { ConflictError, type FieldProblem, NotFoundError, ValidationError } from '../errors/app-error.js';
import type { ScopeRegistry } from '../scopes/registry.js';
import { redirectUriProblem } from './redirect-uris.js';

export const GRANT_TYPES = ['authorization_code', 'client_credentials', 'refresh_token', 'password'] as const;
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
  ) {}

  /** Registers a client. The secret is generated here and returned only this once. */
  async create(input: NewClient): Promise<{ client: Client; clientSecret?: string }> {
    const problems: FieldProblem[] = [];
    const name = input.name?.trim();
    if (!name) problems.push({ field: 'name', message: 'is required' });
    if (input.clientId !== undefined && !CLIENT_ID.test(input.clientId)) {
      problems.push({ field: 'client_id', message: 'must be 1-128 characters of letters, digits and . _ ~ -' });
    }
    const grantTypes = [...new Set(input.grantTypes)];
    if (!grantTypes.length) problems.push({ field: 'grant_types', message: 'at least one is required' });
    for (const grant of grantTypes) {
      if (!(GRANT_TYPES as readonly string[]).includes(grant)) {
        problems.push({ field: 'grant_types', message: `"${grant}" is not one of ${GRANT_TYPES.join(', ')}` });
      }
    }
    if (input.public && grantTypes.some((g) => g === 'client_credentials' || g === 'password')) {
      problems.push({ field: 'grant_types', message: 'a public client cannot use client_credentials or password' });
    }
    const redirectUris = [...new Set(input.redirectUris ?? [])];
    if (grantTypes.includes('authorization_code') && !redirectUris.length) {
      problems.push({ field: 'redirect_uris', message: 'authorization_code needs at least one redirect URI' });
    }
    for (const uri of [...redirectUris, ...(input.postLogoutRedirectUris ?? [])]) {
      const problem = redirectUriProblem(uri);
      if (problem) problems.push({ field: 'redirect_uris', message: `${uri} ${problem}` });
    }
    if (input.tokenFormat !== undefined && input.tokenFormat !== 'opaque' && input.tokenFormat !== 'jwt') {
      problems.push({ field: 'token_format', message: 'must be opaque or jwt' });
    }
    const scope = [...new Set(input.scope ?? [])];
    // oidc-provider reads a client without `scope` as "any scope": never store one.
    if (!scope.length) problems.push({ field: 'scope', message: 'at least one registered scope is required' });
    if (problems.length) throw new ValidationError(problems);
    await this.scopes.assertRegistered(scope);

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
    };
    await this.validate(metadata);
    try {
      const record = await this.store.insert(metadata);
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
    const perPage = Math.min(Math.max(options.perPage ?? 100, 1), 1000);
    const page = Math.max(options.page ?? 1, 1);
    const { total, items } = await this.store.list({ name: options.name, limit: perPage, offset: (page - 1) * perPage });
    return { total, clients: items.map(toClient) };
  }

  private async validate(metadata: ClientMetadata): Promise<void> {
    try {
      await this.validateMetadata(metadata);
    } catch (error) {
      const message = (error as { error_description?: string }).error_description ?? (error as Error).message;
      throw new ValidationError([{ field: 'metadata', message }]);
    }
  }
}
