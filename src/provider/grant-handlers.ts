import type { KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import instance from 'oidc-provider/lib/helpers/weak_cache.js';

export type GrantHandler = (ctx: KoaContextWithOIDC) => Promise<void>;

/**
 * Replaces one of oidc-provider's built-in grant handlers with `wrap(original)`,
 * keeping the parameters the grant accepts. This is the provider's own seam
 * for grants (registerGrantType, which the token endpoint reads on every
 * request); only the built-in handler to wrap has to be read where the
 * provider keeps it. Throws at start-up when an oidc-provider upgrade has
 * moved it, or the grant is not enabled.
 */
export function wrapGrantHandler(provider: Provider, grantType: string, wrap: (original: GrantHandler) => GrantHandler): void {
  const internals = instance(provider);
  const original = internals?.grantTypeHandlers?.get(grantType);
  const params = internals?.grantTypeParams?.get(grantType);
  if (typeof original !== 'function' || !params) {
    throw new Error(`oidc-provider keeps no handler for ${grantType} where Gatehouse wraps it (src/provider/grant-handlers.ts); check the oidc-provider upgrade and that the grant is enabled`);
  }
  const dupes = internals?.grantTypeDupes?.get(grantType);
  provider.registerGrantType(grantType, wrap(original as GrantHandler), [...params], dupes ? [...dupes] : undefined);
}
