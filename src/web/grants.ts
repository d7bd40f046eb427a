import type { AccountGrant } from '../accounts/service.js';
import type { ClientService } from '../clients/service.js';

export type NamedGrant = AccountGrant & { clientName: string };

/** Grants with the names of their clients, for a page (a client deleted meanwhile took its grants with it). */
export function nameGrants(clients: ClientService, grants: AccountGrant[]): Promise<NamedGrant[]> {
  return Promise.all(grants.map(async (grant) => ({
    ...grant,
    clientName: (await clients.show(grant.clientId).catch(() => undefined))?.name ?? grant.clientId,
  })));
}
