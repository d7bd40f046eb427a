import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import compose from 'koa-compose';
import { AppError, NotFoundError } from '../errors/app-error.js';

// Routes match case-insensitively (@koa/router's default), so segments are compared lower-cased.
function firstSegment(path: string): string {
  const end = path.indexOf('/', 1);
  return (end === -1 ? path.slice(1) : path.slice(1, end)).toLowerCase();
}

// A first segment that is a parameter or a pattern can match anything.
const PATTERN = /[:(*?+]/;

/** The wildcard of the path an error mapping is mounted at (see useErrorMapping). */
const MAPPING_WILDCARD = 'underErrorMapping';

/** Each surface's one error mapping, by its router (see useErrorMapping). */
const errorMappings = new WeakMap<Router, Middleware>();

/**
 * Puts a surface's one error mapping in front of its routes, and makes it
 * the mapping that answers what the router leaves unanswered too: a path
 * under the router's prefix that no route serves (404), and a route asked
 * with a method it does not serve (405, with Allow). @koa/router runs a
 * router's middleware only for a route it matched, and its allowedMethods()
 * outside the router, so without this those answers would take the global
 * RFC 6749 shape whatever the surface's shape (LOS's envelope, Northstar's
 * `{error: {code, message}}`).
 */
export function useErrorMapping(router: Router, mapping: Middleware): void {
  errorMappings.set(router, mapping);
  // With a path, not without: @koa/router compiles a path-less middleware's
  // prefix as a case-sensitive RegExp while its routes match in any case, so
  // `/API/V1.1/OAUTH/TOKEN` ran the route without its surface's mapping and
  // answered errors in the global shape. A path is compiled like a route's;
  // its wildcard is taken out of the route's parameters again, which the
  // request log masks in the path it writes.
  router.use(`{/*${MAPPING_WILDCARD}}`, (ctx, next) => {
    delete (ctx.params as Record<string, unknown> | undefined)?.[MAPPING_WILDCARD];
    return mapping(ctx, next);
  });
}

/** The methods the router serves at this path (@koa/router lists HEAD with GET). */
function methodsAt(router: Router, path: string): string[] {
  const methods = new Set<string>();
  for (const layer of router.match(path, 'GET').path) for (const method of layer.methods) methods.add(method);
  return [...methods];
}

/** Whether the path is the router's prefix or under it, compared as routes match: case-insensitively. */
function underPrefix(router: Router, path: string): boolean {
  const prefix = router.opts.prefix?.toLowerCase();
  if (!prefix) return false;
  const lower = path.toLowerCase();
  return lower === prefix || lower.startsWith(`${prefix}/`);
}

/**
 * The router a request nobody answered belongs to: the first with a route at
 * its path (any method), else the one whose prefix holds the path most
 * closely. Only a router with its own error mapping answers; the others'
 * leftovers go to the global handler.
 */
function ownerOf(routers: Router[], path: string): { router: Router; methods: string[] } | undefined {
  for (const router of routers) {
    const methods = methodsAt(router, path);
    if (methods.length) return { router, methods };
  }
  let owner: Router | undefined;
  for (const router of routers) {
    if (underPrefix(router, path) && (router.opts.prefix?.length ?? 0) > (owner?.opts.prefix?.length ?? -1)) owner = router;
  }
  return owner && { router: owner, methods: [] };
}

/**
 * Answers a request the routers left without a body (a 404 from nobody, or
 * allowedMethods' bare 405/501) through the owning surface's error mapping.
 * An unknown method is the caller's mistake, so it is a 405 too.
 */
async function answerInSurfaceShape(ctx: Context, routers: Router[]): Promise<void> {
  if (ctx.body != null || (ctx.status !== 404 && ctx.status !== 405 && ctx.status !== 501)) return;
  const owner = ownerOf(routers, ctx.path);
  const mapping = owner && errorMappings.get(owner.router);
  if (!owner || !mapping) return;
  let refusal: AppError = new NotFoundError(`no route for ${ctx.method} ${ctx.path}`);
  if (owner.methods.length) {
    ctx.set('Allow', owner.methods.join(', '));
    refusal = new AppError(405, 'method_not_allowed', `${ctx.method} is not allowed here`);
  }
  await mapping(ctx, () => Promise.reject(refusal));
}

/**
 * Gatehouse's routers, each tried only for the first path segments its
 * routes serve. Composed one after another, every request would be matched
 * against every route of every router in front of the one that answers it
 * (the legacy token endpoints sat behind eight routers); here a request pays
 * one map lookup, then the routers of its segment, in their original order.
 * What they leave unanswered is answered in the owning surface's shape
 * (answerInSurfaceShape), else by the global error handler.
 */
export function dispatchByFirstSegment(routers: Router[]): Middleware {
  const serves = routers.map((router) => {
    const segments = new Set(router.stack.filter((layer) => layer.methods.length > 0).map((layer) => (typeof layer.path === 'string' ? firstSegment(layer.path) : '*')));
    return { router, segments, anywhere: [...segments].some((segment) => PATTERN.test(segment)) };
  });
  const chain = (members: typeof serves): Middleware | undefined => {
    if (!members.length) return undefined;
    const routes = compose(members.flatMap(({ router }) => [router.routes(), router.allowedMethods()]) as unknown as Middleware[]);
    const owners = members.map(({ router }) => router);
    return (ctx, next) => routes(ctx, next).then(() => answerInSurfaceShape(ctx, owners));
  };
  const bySegment = new Map<string, Middleware | undefined>();
  for (const segment of new Set(serves.flatMap(({ segments }) => [...segments]))) {
    bySegment.set(segment, chain(serves.filter((s) => s.anywhere || s.segments.has(segment))));
  }
  const elsewhere = chain(serves.filter((s) => s.anywhere));
  return (ctx, next) => {
    const segment = firstSegment(ctx.path);
    const routes = bySegment.has(segment) ? bySegment.get(segment) : elsewhere;
    return routes ? routes(ctx, next) : next();
  };
}
