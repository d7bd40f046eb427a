import type { Adapter, AdapterFactory } from 'oidc-provider';

// oidc-provider encodes 6 bits per character.
const length = (bits: number) => Math.ceil(bits / 6);
// Access tokens get 8 bits more than every other value oidc-provider mints.
const ACCESS_TOKEN_BITS = 264;
const OTHER_BITS = 256;
const ACCESS_TOKENS = new Set(['AccessToken', 'ClientCredentials']);

/**
 * The one length no refresh token has: Gatehouse's own access tokens'. Every
 * other length may be a refresh token, Gatehouse's (43) or one imported from
 * the system Gatehouse replaced (django-oauth-toolkit's are 30 characters by
 * default, any length with a custom generator), so only this one is skipped.
 * The import refuses refresh tokens of this length (src/tokens/import.ts), so
 * the skip never turns a stored one away.
 */
export const ACCESS_TOKEN_LENGTH = length(ACCESS_TOKEN_BITS);

/**
 * Opaque access tokens are 264 random bits (44 characters) and every other
 * value oidc-provider mints, refresh tokens included, 256 bits (43), so that
 * a value's length tells which it can be. Introspection and revocation
 * without a `token_type_hint` look a value up as an access token, a
 * client-credentials token and a refresh token at once, and refresh tokens
 * live in the database: without this, every introspection of an access token
 * cost a PostgreSQL query. (`formats.bitsOfOpaqueRandomness`.)
 */
export function bitsOfOpaqueRandomness(_ctx: unknown, token: { kind: string }): number {
  return ACCESS_TOKENS.has(token.kind) ? ACCESS_TOKEN_BITS : OTHER_BITS;
}

/**
 * The adapter factory, with refresh-token lookups of values that cannot be
 * refresh tokens (Gatehouse's access tokens, by their length) answered at once.
 */
export function skippingForeignRefreshTokens(factory: AdapterFactory): AdapterFactory {
  return (model: string) => {
    const adapter = factory(model);
    if (model !== 'RefreshToken') return adapter;
    const find = adapter.find.bind(adapter);
    return Object.assign(Object.create(adapter) as Adapter, {
      find: async (id: string) => (id.length === ACCESS_TOKEN_LENGTH ? undefined : find(id)),
    });
  };
}
