import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';
import { applicationTypeOf } from '../clients/redirect-uris.js';

/**
 * The adapter factory, with every client read by the provider carrying the
 * `application_type` its metadata makes it (clients/redirect-uris.ts), so a
 * public client with loopback or private-use redirect URIs, made in any
 * surface, before this or after, is a native app to oidc-provider, and no
 * other client is. A stored `application_type` is never taken as it is: RFC
 * 7591 clients registered before Gatehouse derived it at registration carry
 * the one they asked for (or oidc-provider's default `web`), and a
 * confidential "native" client would keep the loopback port leeway. The
 * client store hands out one metadata object per client until it reloads the
 * row; the completed copy is kept with it, so the provider's own cache of
 * built clients (client-lookup.ts) still sees one object per reload.
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
        if (!metadata) return metadata;
        let copy = completed.get(metadata);
        if (!copy) completed.set(metadata, copy = { ...metadata, application_type: applicationTypeOf(metadata) } as AdapterPayload);
        return copy;
      },
    });
  };
}
