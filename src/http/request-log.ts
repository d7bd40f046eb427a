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

// On a path no route matched, a segment this long is written masked: it is
// more likely a token, a reset-link secret or a code (a link behind a prefix
// a proxy added, a stray segment) than a word of a path Gatehouse serves.
const LONGEST_UNMASKED_SEGMENT = 15;

function decodedSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * The request's path as it may be written to the log: each
 * segment holding a matched route's parameter (`ctx.params`, which both
 * @koa/router and oidc-provider's router fill) written as `:name`, so
 * `/account/reset/<secret>` is `/account/reset/:token` and oidc-provider's
 * `/auth/<uid>` is `/auth/:uid`; on a path no route matched, every segment
 * longer than LONGEST_UNMASKED_SEGMENT characters written as `:masked`. A
 * parameter's value is compared with each segment (raw, and decoded as the
 * routers decode it), and so is each part of a value that spans segments.
 */
function maskedPath(ctx: Context, matched: boolean): string {
  const { path } = ctx;
  if (!matched) {
    return path.split('/').map((segment) => (segment.length > LONGEST_UNMASKED_SEGMENT ? ':masked' : segment)).join('/');
  }
  const params = (ctx as unknown as { params?: Record<string, unknown> }).params;
  let names: Map<string, string> | undefined;
  for (const name in params) {
    const value = params[name];
    if (typeof value !== 'string' || !value) continue;
    names ??= new Map();
    names.set(value, `:${name}`);
    if (value.includes('/')) for (const part of value.split('/')) if (part) names.set(part, `:${name}`);
  }
  if (!names) return path;
  const masks = names;
  return path.split('/').map((segment) => masks.get(segment) ?? masks.get(decodedSegment(segment)) ?? segment).join('/');
}

/**
 * One log line per request, with a request id (an incoming X-Request-Id is
 * kept when it is sane), route, status, duration, and the client and grant
 * type where known. Nothing the request carries that could be a secret is
 * written: not the query string, the body or the headers, and not the values
 * of a route's parameters, which are in the path (a password-reset link's
 * secret, an interaction's uid): the path is written masked (maskedPath),
 * the route as its pattern or the provider's route name.
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
      const line: Record<string, unknown> = { req_id: id, method: ctx.method, path: maskedPath(ctx, route !== 'unmatched'), route, status: ctx.status, ms: Math.round(seconds * 10_000) / 10 };
      const clientId = oidc?.client?.clientId;
      if (clientId) line.client_id = clientId;
      if (typeof grantType === 'string') line.grant_type = grantType;
      if (ctx.state.dialect) line.dialect = ctx.state.dialect;
      logger.info(line, 'request');
      metrics?.httpDuration.observe({ route, method: ctx.method, status: `${Math.floor(ctx.status / 100)}xx` }, seconds);
    }
  };
}
