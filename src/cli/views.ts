import type { Account } from '../accounts/service.js';
import type { Client } from '../clients/service.js';

/** A client as every CLI command shows it (RFC 7591 names). */
export function snakeClient(client: Client, secret?: string) {
  return {
    client_id: client.clientId,
    ...(secret ? { client_secret: secret } : {}),
    client_name: client.name,
    description: client.description,
    grant_types: client.grantTypes,
    redirect_uris: client.redirectUris,
    scope: client.scope.join(' '),
    public: client.public,
    token_format: client.tokenFormat,
    created_at: client.createdAt,
    updated_at: client.updatedAt,
  };
}

/** An account as every CLI command shows it (never its password hash). */
export function snakeUser(account: Account) {
  return {
    id: account.id,
    username: account.username,
    email: account.email,
    name: account.name,
    roles: account.roles,
    active: account.active,
    created_at: account.createdAt.toISOString(),
    updated_at: account.updatedAt.toISOString(),
  };
}

/** Any other record as the CLI shows it: the same snake_case field names as clients and users (`created_at`). */
export function snakeRecord(record: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).map(([name, value]) => [name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`), value]));
}
