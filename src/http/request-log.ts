import { randomBytes } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

// Request ids only have to be unique, not unguessable: a random prefix per
// process and a counter (a UUID per request cost more than the rest of the
// log line's bookkeeping, profiled).
const ID_PREFIX = randomBytes(6).toString('base64url');
let issued = 0;
const newRequestId = () => `${ID_PREFIX}-${(issued++).toString(36)}`;

interface OidcView { route?: string; client?: { clientId?: string }; params?: Record<string, unknown> }

/** A low-cardinality name for the route: the provider's route name or the router's pattern. */
function routeOf(ctx: Context, oidc: OidcView | undefined): string {
  if (oidc?.route) return `oidc:${oidc.route}`;
  const matched = (ctx as unknown as { _matchedRoute?: unknown })._matchedRoute;
  return typeof matched === 'string' ? matched : 'unmatched';
}

/**
 * One log line per request, with a request id (an incoming X-Request-Id is
 * kept when it is sane), route, status, duration, and the client and grant
 * type where known. Only the path is logged: query strings, bodies and
 * headers can carry codes, tokens and secrets.
 */
export function requestLog(logger: Logger, metrics?: Metrics): Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    const incoming = ctx.get('X-Request-Id');
    const id = incoming && REQUEST_ID.test(incoming) ? incoming : newRequestId();
    ctx.state.requestId = id;
    // Straight onto the response: Koa's ctx.set allocates arrays per call.
    ctx.res.setHeader('X-Request-Id', id);
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const oidc = (ctx as unknown as { oidc?: OidcView }).oidc;
      const route = routeOf(ctx, oidc);
      const grantType = oidc?.params?.grant_type;
      // Optional fields are added only when known (no spread of throwaway objects on every request).
      const line: Record<string, unknown> = { req_id: id, method: ctx.method, path: ctx.path, route, status: ctx.status, ms: Math.round(seconds * 10_000) / 10 };
      const clientId = oidc?.client?.clientId;
      if (clientId) line.client_id = clientId;
      if (typeof grantType === 'string') line.grant_type = grantType;
      if (ctx.state.dialect) line.dialect = ctx.state.dialect;
      logger.info(line, 'request');
      metrics?.httpDuration.observe({ route, method: ctx.method, status: `${Math.floor(ctx.status / 100)}xx` }, seconds);
    }
  };
}
