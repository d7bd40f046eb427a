import type Router from '@koa/router';
import type { Middleware } from 'koa';
import compose from 'koa-compose';

// Routes match case-insensitively (@koa/router's default), so segments are compared lower-cased.
function firstSegment(path: string): string {
  const end = path.indexOf('/', 1);
  return (end === -1 ? path.slice(1) : path.slice(1, end)).toLowerCase();
}

// A first segment that is a parameter or a pattern can match anything.
const PATTERN = /[:(*?+]/;

/**
 * Gatehouse's routers, each tried only for the first path segments its
 * routes serve. Composed one after another, every request would be matched
 * against every route of every router in front of the one that answers it
 * (the legacy token endpoints sat behind eight routers); here a request pays
 * one map lookup, then the routers of its segment, in their original order.
 */
export function dispatchByFirstSegment(routers: Router[]): Middleware {
  const serves = routers.map((router) => {
    const segments = new Set(router.stack.filter((layer) => layer.methods.length > 0).map((layer) => (typeof layer.path === 'string' ? firstSegment(layer.path) : '*')));
    return { router, segments, anywhere: [...segments].some((segment) => PATTERN.test(segment)) };
  });
  const chain = (members: typeof serves): Middleware | undefined => (members.length
    ? compose(members.flatMap(({ router }) => [router.routes(), router.allowedMethods()]) as unknown as Middleware[])
    : undefined);
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
