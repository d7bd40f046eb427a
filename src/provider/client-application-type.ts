import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';
import { applicationTypeOf } from '../clients/redirect-uris.js';

/**
 * The adapter factory, with every client read by the provider carrying an
 * `application_type`: the one a client registered with (RFC 7591), else the
 * one its redirect URIs make it (clients/redirect-uris.ts), so a public
 * client made in any admin surface, before this or after, with loopback or
 * private-use redirect URIs is a native app to oidc-provider. The client
 * store hands out one metadata object per client until it reloads the row;
 * the completed copy is kept with it, so the provider's own cache of built
 * clients (client-lookup.ts) still sees one object per reload.
 */
export function withApplicationTypes(factory: AdapterFactory): AdapterFactory {
  const completed = new WeakMap<object, AdapterPayload>();
  return (model: string) => {
    const adapter = factory(model);
    if (model !== 'Client') return adapter;
    const find = adapter.find.bind(adapter);
    return Object.assign(Object.create(adapter) as Adapter, {
      find: async (id: string) => {
        const metadata = await find(id);
        if (!metadata || typeof (metadata as { application_type?: unknown }).application_type === 'string') return metadata;
        let copy = completed.get(metadata);
        if (!copy) completed.set(metadata, copy = { ...metadata, application_type: applicationTypeOf(metadata) } as AdapterPayload);
        return copy;
      },
    });
  };
}
