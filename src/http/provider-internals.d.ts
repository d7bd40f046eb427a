/**
 * oidc-provider keeps its router in a per-instance store that only its own
 * modules read (lib/helpers/weak_cache.js). Gatehouse reads the router from
 * there so that its middlewares resolve routes exactly as the provider does,
 * replaces the keystore's keys when a signing key is rotated, adds scope
 * names added to the registry, and wraps a built-in grant's handler;
 * src/http/provider-routes.ts, src/provider/live-signing-keys.ts,
 * src/provider/live-scopes.ts and src/provider/grant-handlers.ts check at
 * start-up that the shapes are still there.
 */
declare module 'oidc-provider/lib/helpers/weak_cache.js' {
  interface ProviderRouter {
    match(method: string, path: string): { route: { name: string } } | undefined;
  }
  interface ProviderKeystore {
    add(key: object): void;
    clear(): void;
    [Symbol.iterator](): Iterator<{ kid?: string }>;
  }
  export default function instance(provider: object): {
    router?: ProviderRouter;
    /** The private keys it signs with (the first match of an algorithm signs). */
    keystore?: ProviderKeystore;
    /** What its `jwks` endpoint serves. */
    jwks?: { keys: object[] };
    /** The token endpoint's handler per grant type, read on every token request. */
    grantTypeHandlers?: Map<string, (ctx: unknown) => Promise<void>>;
    /** The parameters each grant type accepts. */
    grantTypeParams?: Map<string | undefined, Set<string>>;
    /** The parameters each grant type accepts more than once. */
    grantTypeDupes?: Map<string, Set<string>>;
    /** The configuration as the provider resolved it; `scopes` is read afresh by client validation, the scope filter and discovery. */
    configuration?: { scopes?: unknown };
  } | undefined;
}

/**
 * The provider's revocation of what was issued under a grant (and, as its
 * revokeGrantPolicy decides, the grant itself), which its revocation endpoint
 * applies to an opaque access token; src/http/jwt-token-endpoints.ts applies
 * it to a JWT one the same way.
 */
declare module 'oidc-provider/lib/helpers/revoke.js' {
  export default function revoke(ctx: object, grantId: string | undefined): Promise<void>;
}
