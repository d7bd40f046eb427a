import type { Middleware } from 'koa';
import compose from 'koa-compose';
import type Provider from 'oidc-provider';
import instance from 'oidc-provider/lib/helpers/weak_cache.js';

/** A provider route's name, as oidc-provider names it (`token`, `introspection`, `code_verification`, …). */
export type ProviderRouteName = string;

/** A provider route a request reaches, with its path parameters as the provider decodes them (`clientId` of `/reg/:clientId`). */
export interface ProviderRoute { name: ProviderRouteName; params: Readonly<Record<string, string>> }

/** Which of the provider's routes a request would reach, if any, with its parameters. */
export type RouteResolver = (method: string, path: string) => ProviderRoute | undefined;

/**
 * The provider's own route resolution. oidc-provider matches paths
 * case-insensitively (Unicode case folding) and with or without a trailing
 * slash, so `/Token`, `/token/` and `/TOKEN` are all its token endpoint. A
 * middleware that guards a provider route and compared paths itself would be
 * bypassed by any spelling it did not think of (issue 15, M1); asking the
 * provider's router leaves nothing to think of.
 */
export function providerRouteResolver(provider: Provider): RouteResolver {
  const router = instance(provider)?.router;
  if (typeof router?.match !== 'function') {
    throw new Error('oidc-provider no longer exposes its router where Gatehouse reads it (src/http/provider-routes.ts); check the oidc-provider upgrade');
  }
  const resolve: RouteResolver = (method, path) => {
    const found = router.match(method, path) as { route: { name: string }; params?: Record<string, string> } | undefined;
    return found && { name: found.route.name, params: found.params ?? {} };
  };
  // The provider registers POST /token under this name; if not, the resolver is wrong, not merely unused.
  if (resolve('POST', provider.pathFor('token'))?.name !== 'token') {
    throw new Error('oidc-provider resolves its own token path to another route; check the oidc-provider upgrade');
  }
  return resolve;
}

/**
 * Gatehouse's extensions of the provider's endpoints, declared per route in
 * the order they run (like oidc-provider's own `use(() => …)` tables in
 * lib/actions/*), and dispatched by the provider's route resolution: the
 * one place that decides which extension sees which request. Requests for no
 * listed route pass straight on.
 */
export function extendProviderRoutes(resolve: RouteResolver, table: Readonly<Record<ProviderRouteName, readonly Middleware[]>>): Middleware {
  const chains = new Map(Object.entries(table).map(([name, steps]) => [name, compose([...steps])]));
  return (ctx, next) => {
    const route = resolve(ctx.method, ctx.path);
    const chain = route && chains.get(route.name);
    if (!chain) return next();
    // The steps read the route's parameters as the provider resolved them, never from the path themselves.
    ctx.state.providerRoute = route;
    return chain(ctx, next);
  };
}
