/**
 * oidc-provider keeps its router in a per-instance store that only its own
 * modules read (lib/helpers/weak_cache.js). Gatehouse reads the router from
 * there so that its middlewares resolve routes exactly as the provider does;
 * src/http/provider-routes.ts checks at start-up that the shape is still there.
 */
declare module 'oidc-provider/lib/helpers/weak_cache.js' {
  interface ProviderRouter {
    match(method: string, path: string): { route: { name: string } } | undefined;
  }
  export default function instance(provider: object): { router?: ProviderRouter } | undefined;
}
