import type { Adapter, AdapterFactory, AdapterPayload as ProviderPayload } from 'oidc-provider';
import type { AdapterPayload, PayloadStore } from './contract.js';
import type { ClientMetadata, ClientsStore } from './sql/clients-store.js';
import { isEphemeral, JWT_ACCESS_TOKEN_MODEL } from './tiers.js';

export interface AdapterTiers {
  durable: PayloadStore;
  ephemeral: PayloadStore;
  clients: ClientsStore;
}

function payloadAdapter(model: string, store: PayloadStore): Adapter {
  return {
    // Revoking a grant's access tokens revokes its JWT access tokens too.
    ...(model === 'AccessToken' ? {
      revokeByGrantId: async (grantId: string) => {
        await store.revokeByGrantId(model, grantId);
        await store.revokeByGrantId(JWT_ACCESS_TOKEN_MODEL, grantId);
      },
    } : { revokeByGrantId: (grantId: string) => store.revokeByGrantId(model, grantId) }),
    upsert: (id, payload, expiresIn) => store.upsert(model, id, payload as AdapterPayload, expiresIn),
    find: async (id) => (await store.find(model, id)) as ProviderPayload | undefined,
    findByUid: async (uid) => (await store.findByUid(model, uid)) as ProviderPayload | undefined,
    findByUserCode: async (userCode) => (await store.findByUserCode(model, userCode)) as ProviderPayload | undefined,
    consume: async (id) => { await store.consume(model, id); },
    destroy: (id) => store.destroy(model, id),
  };
}

// Clients are rows of their own table, shared with every admin surface; this
// adapter is how oidc-provider (and dynamic registration) reads and writes them.
function clientAdapter(clients: ClientsStore): Adapter {
  const unsupported = async (): Promise<never> => { throw new Error('not applicable to clients'); };
  return {
    upsert: (id, payload) => clients.save({ ...(payload as Record<string, unknown>), client_id: id } as ClientMetadata),
    find: async (id) => (await clients.findCached(id)) as ProviderPayload | undefined,
    findByUid: unsupported,
    findByUserCode: unsupported,
    consume: unsupported,
    destroy: async (id) => { await clients.delete(id); },
    revokeByGrantId: unsupported,
  };
}

/** The `adapter` option of oidc-provider: one adapter per model, on its tier. */
export function createAdapterFactory(tiers: AdapterTiers): AdapterFactory {
  return (model: string) => {
    if (model === 'Client') return clientAdapter(tiers.clients);
    return payloadAdapter(model, isEphemeral(model) ? tiers.ephemeral : tiers.durable);
  };
}
