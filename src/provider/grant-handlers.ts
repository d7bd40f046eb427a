import { errors, type KoaContextWithOIDC } from 'oidc-provider';
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

/**
 * Registers a grant Gatehouse implements itself (the password grant, token
 * exchange). oidc-provider binds the tokens of its own grants to a DPoP key
 * (RFC 9449) through helpers it does not expose; these grants issue Bearer
 * tokens only, so a request that asks for a bound token (a `DPoP` proof), or
 * a client whose tokens must be bound, is refused rather than answered with
 * a token weaker than it asked for.
 */
export function registerBearerGrant(provider: Provider, grantType: string, handler: GrantHandler, params: Iterable<string>): void {
  provider.registerGrantType(grantType, (async (ctx: KoaContextWithOIDC) => {
    if (ctx.get('DPoP')) throw new errors.InvalidDpopProof(`${grantType} issues Bearer tokens only; send it without a DPoP proof`);
    if ((ctx.oidc.client as { dpopBoundAccessTokens?: boolean } | undefined)?.dpopBoundAccessTokens) {
      throw new errors.InvalidGrant(`this client's tokens must be DPoP-bound, which ${grantType} does not issue`);
    }
    await handler(ctx);
  }) as never, [...params]);
}
