import { randomBytes } from 'node:crypto';
import { type ClientMetadata, type ClientRecord, DuplicateClientIdError } from '../../adapters/contract.js';
import type { AuditLog } from '../audit/log.js';
import { AppError } from '../errors/app-error.js';
import type { MetadataValidator } from './service.js';

/** The administration dashboard's own OIDC client (src/admin/dashboard). */
export const DASHBOARD_CLIENT_ID = 'gatehouse-dashboard';

/**
 * Clients Gatehouse registers for itself. Every administrator signs in to the
 * dashboard through its client, so a change to one of them (an unticked
 * `openid`, another redirect URI, a rotated secret, a deletion) would lock
 * every administrator out; no surface may change them, and start-up puts
 * them back as Gatehouse needs them (`keepReservedClient`).
 */
const RESERVED_CLIENT_IDS: ReadonlySet<string> = new Set([DASHBOARD_CLIENT_ID]);

export function isReservedClient(clientId: string): boolean {
  return RESERVED_CLIENT_IDS.has(clientId);
}

/** A change to a client Gatehouse manages itself. */
export class ReservedClientError extends AppError {
  override name = 'ReservedClientError';

  constructor(readonly clientId: string) {
    super(403, 'reserved_client', `client "${clientId}" is managed by Gatehouse itself and cannot be created, changed or deleted`);
  }
}

/**
 * The one check every surface that creates, changes, re-keys or deletes a
 * client by id makes first (dashboard, Northstar, Lux adjust/, CLI, imports).
 */
export function assertClientChangeable(clientId: string): void {
  if (isReservedClient(clientId)) throw new ReservedClientError(clientId);
}

/** The part of the clients store that keeping a reserved client needs. */
export interface ReservedClientStore {
  find(clientId: string): Promise<ClientRecord | undefined>;
  insert(metadata: ClientMetadata): Promise<ClientRecord>;
  replace(metadata: ClientMetadata): Promise<ClientRecord | undefined>;
  revealSecret(clientId: string): Promise<string | undefined>;
}

/** The metadata fields that differ between the stored client and the wanted one. */
function differences(stored: ClientMetadata, wanted: ClientMetadata): string[] {
  const names = new Set([...Object.keys(stored), ...Object.keys(wanted)]);
  names.delete('client_secret');
  return [...names].filter((name) => JSON.stringify(stored[name]) !== JSON.stringify(wanted[name])).sort();
}

/**
 * Makes the stored client exactly `wanted` (every metadata field; anything
 * else a write added is dropped), keeping its secret when it has a usable
 * one, and answers the secret. Run at every start, so whatever changed the
 * client behind Gatehouse's back (SQL, an older version, an import) is undone.
 * Idempotent and safe for processes starting together on one database.
 */
export async function keepReservedClient(
  deps: { store: ReservedClientStore; validate: MetadataValidator; audit?: AuditLog },
  wanted: ClientMetadata,
): Promise<string> {
  const { store, validate, audit } = deps;
  const clientId = wanted.client_id;
  if (!isReservedClient(clientId)) throw new Error(`client ${clientId} is not a reserved client`);
  const stored = await store.find(clientId);
  if (!stored) {
    const created = { ...wanted, client_secret: randomBytes(32).toString('base64url') };
    await validate(created);
    try {
      await store.insert(created);
      await audit?.record({ event: 'client.created', actor: 'system', clientId, detail: { reserved: true } });
      await audit?.record({ event: 'client.secret_issued', actor: 'system', clientId });
    } catch (error) {
      if (!(error instanceof DuplicateClientIdError)) throw error; // another process registered it first
    }
  } else {
    const usableSecret = typeof stored.metadata.client_secret === 'string' && await store.revealSecret(clientId) !== undefined;
    const changed = differences(stored.metadata, wanted);
    if (changed.length || !usableSecret) {
      // The stored hash handed back keeps the secret (ClientsStore.replace).
      const repaired = { ...wanted, client_secret: usableSecret ? stored.metadata.client_secret : randomBytes(32).toString('base64url') };
      await validate(repaired);
      await store.replace(repaired);
      await audit?.record({ event: 'client.repaired', actor: 'system', clientId, detail: { fields: changed, new_secret: !usableSecret } });
    }
  }
  const secret = await store.revealSecret(clientId);
  if (!secret) throw new Error(`client ${clientId} has no secret`);
  return secret;
}
