import { randomUUID } from 'node:crypto';
import type { Services } from '../main.js';
import type { ImportTargets } from './targets.js';

/**
 * INTERIM, until fix/import-accounts lands AccountService.importAccount and
 * the client import: argon2 hashes only, accounts created (not updated),
 * clients with plain secrets. Replaced by the domain services' own imports.
 */
export function serviceTargets(services: Services): ImportTargets {
  const { accounts, clients } = services.storage;
  return {
    passwordHashVerifiable: (hash) => !hash.startsWith('md5'),
    async importAccount(account, { dryRun }) {
      const existing = await accounts.findByUsername(account.username);
      if (existing) return { outcome: 'unchanged', accountId: existing.id };
      if (dryRun) return { outcome: 'created' };
      const name = [account.firstName, account.lastName].filter(Boolean).join(' ') || null;
      const record = await accounts.insert({ id: randomUUID(), username: account.username, passwordHash: account.passwordHash,
        roles: account.roles, email: account.email ?? null, emailVerified: false, name });
      return { outcome: 'created', accountId: record.id };
    },
    accountIdOf: async (username) => (await accounts.findByUsername(username))?.id,
    async importClient(client, { dryRun }) {
      if (await clients.find(client.clientId)) return { outcome: 'unchanged' };
      if (dryRun) return { outcome: 'created' };
      await clients.insert({
        client_id: client.clientId, client_name: client.name, grant_types: client.grantTypes,
        response_types: client.grantTypes.includes('authorization_code') ? ['code'] : [], redirect_uris: client.redirectUris,
        scope: client.scope.join(' '), token_endpoint_auth_method: client.public ? 'none' : 'client_secret_basic',
        ...(client.secret && 'plain' in client.secret ? { client_secret: client.secret.plain } : {}),
      });
      return { outcome: 'created' };
    },
  };
}

/** INTERIM: the name of a hash's format (Django's "<algorithm>$…", PHC's "$<id>$…"). */
export function interimHashFormat(hash: string): string {
  return (hash.startsWith('$') ? hash.split('$')[1] : hash.split('$')[0]) || 'unknown';
}
