import type { Context, Middleware } from 'koa';
import type Koa from 'koa';
import { AppError } from '../errors/app-error.js';
import { asClientGone, ClientGoneError, requestCutShort } from '../errors/client-gone.js';
import { writeAppErrorAsRfc6749, writeRfc6749Error } from '../errors/rfc6749.js';
import { shownProviderError } from '../errors/provider-error.js';
import type { Logger } from '../observability/logger.js';

/**
 * A request whose client went away (or timed out) before it was answered:
 * logged once at info, without a stack (it is no fault of the server's), and
 * recorded with the gone error's status (499, or 408) so that neither the
 * request log nor the 5xx metrics count it as a server error. Nothing is
 * written: nobody is there to read it.
 */
function clientWentAway(ctx: Context, gone: ClientGoneError, logger: Logger): void {
  logger.info({ req_id: ctx.state.requestId, reason: gone.reason, code: gone.errorCode }, 'the client went away before its request was answered');
  ctx.body = null;
  ctx.status = gone.status;
}

/**
 * What is left unanswered after the routers ran, in the RFC 6749 shape: no
 * route (404, since oidc-provider has no catch-all), and a path that exists
 * but not for this method (@koa/router's allowedMethods sets 405 with the
 * Allow header, or 501 for a method no router knows, and no body, which Koa
 * would send as text/plain). An unknown method is the caller's mistake, so
 * it is a 405 too, not a 5xx. A surface with its own error shape (a dialect,
 * Northstar) has already answered its own paths' 404s and 405s through its
 * error mapping (route-dispatch.ts, useErrorMapping); this is the shape of
 * the standard endpoints and of every path no such surface owns.
 */
function answerUnanswered(ctx: Context): void {
  if (ctx.body != null) return;
  if (ctx.status === 404) writeRfc6749Error(ctx, 404, 'not_found', `no route for ${ctx.method} ${ctx.path}`);
  else if (ctx.status === 405 || ctx.status === 501) writeRfc6749Error(ctx, 405, 'method_not_allowed', `${ctx.method} is not allowed here`);
}

/**
 * The last line of defence for Gatehouse's own routes (oidc-provider renders
 * its own errors). AppErrors become `{error, error_description}` with their
 * status, oidc-provider's shown errors (a storage outage among them) their
 * RFC 6749 shape; a client that went away is its own outcome (see
 * clientWentAway), whether a body reader raised it (ClientGoneError, or the
 * connection's raw error while the request is cut short) or an answer was
 * made for a request that never arrived whole (oidc-provider answers its own
 * body reader's failure with a 400); anything else is logged with its stack
 * and answered as a bare 500.
 */
export function errorHandler(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (requestCutShort(ctx.req)) {
        clientWentAway(ctx, asClientGone(ctx.req.errored) ?? new ClientGoneError('closed'), logger);
        return;
      }
      answerUnanswered(ctx);
    } catch (error) {
      const err = error as { status?: number; statusCode?: number; expose?: boolean; message?: string };
      const status = err.status ?? err.statusCode ?? 500;
      const gone = asClientGone(error);
      const providerError = shownProviderError(error);
      if (gone && (error === gone || requestCutShort(ctx.req))) {
        clientWentAway(ctx, gone, logger);
      } else if (error instanceof AppError) {
        writeAppErrorAsRfc6749(ctx, error);
        if (error.detail) logger.warn({ req_id: ctx.state.requestId, detail: error.detail }, error.message);
      } else if (providerError) {
        // A storage outage (503 temporarily_unavailable) or a protocol error thrown outside the provider.
        writeRfc6749Error(ctx, providerError.status, providerError.code, providerError.description);
      } else if (status < 500 && err.expose) {
        // Koa's own http errors (for example a body over the size limit).
        writeRfc6749Error(ctx, status, 'invalid_request', String(err.message));
      } else {
        logger.error({ req_id: ctx.state.requestId, err: error }, 'unhandled error');
        writeRfc6749Error(ctx, 500, 'server_error', 'An internal error occurred.');
      }
    }
  };
}

/**
 * Koa's `error` event, through the structured logger. Koa emits it for what
 * escapes the middleware chain and for errors of the response's connection
 * (a client that hangs up, a body shorter than its Content-Length: "Parse
 * Error", the server's request timeout); with no listener, Koa's default
 * prints every one as a stack on stderr, outside the JSON log. A listener
 * replaces that default, so call this before the app's callback() is made.
 * A connection that ended is the client's doing (info, no stack); a client
 * error Koa would have shown is debug; anything else is an error, with its
 * stack.
 */
export function logUncaughtErrors(app: Koa, logger: Logger): void {
  app.on('error', (error: unknown, ctx?: Context) => {
    const reqId: unknown = ctx?.state?.requestId;
    const gone = asClientGone(error);
    if (gone && (!ctx || requestCutShort(ctx.req) || ctx.req.socket?.destroyed !== false)) {
      logger.info({ req_id: reqId, reason: gone.reason, code: gone.errorCode }, 'the client went away before its answer was sent');
      return;
    }
    const err = error as { status?: number; expose?: boolean; message?: unknown } | null;
    if (err?.expose && (err.status ?? 500) < 500) {
      logger.debug({ req_id: reqId, status: err.status, message: String(err.message) }, 'client error outside the middleware chain');
      return;
    }
    logger.error({ req_id: reqId, err: error }, 'error outside the middleware chain');
  });
}

/**
 * The policy of responses Gatehouse does not render itself: JSON, and the
 * auto-submitting pages oidc-provider writes (form_post, and logout without a
 * session). Gatehouse serves no script, so 'self' matches nothing; script-src
 * is there for oidc-provider to add the hash of its one inline script to.
 * Gatehouse's own pages replace this with PAGE_HEADERS.
 */
const BASELINE_CSP = "default-src 'none'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'";

// A year: browsers that once reached an https issuer keep to https for it
// (RFC 6797). Not includeSubDomains: the issuer's parent domain may serve
// other hosts Gatehouse knows nothing of.
const HSTS = 'max-age=31536000';

/**
 * Headers on every response: no MIME sniffing, no referrer leaks of codes in
 * URLs, no framing; with an https issuer, HSTS too, so that a browser never
 * again sends a sign-in or a session cookie over plain http (also behind a
 * proxy that terminates TLS and sets none itself).
 */
export function securityHeaders({ https }: { https: boolean }): Middleware {
  return (ctx, next) => {
    // Straight onto the response (nothing is sent yet): Koa's ctx.set
    // allocates arrays on every call, measurable on every request.
    const { res } = ctx;
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Content-Security-Policy', BASELINE_CSP);
    res.setHeader('X-Frame-Options', 'DENY');
    if (https) res.setHeader('Strict-Transport-Security', HSTS);
    return next();
  };
}

/**
 * Gatehouse's own answers (the dialects, the admin API, the pages, the
 * resource check) are not stored by any cache unless their route says
 * otherwise (the static assets): many carry a token, a client secret or a
 * user's details (RFC 6749 §5.1, RFC 9700), and a route that forgot to say
 * so (Lux's client update answered a new secret cacheably) would leak them.
 * The provider's own routes keep the provider's choice (no-store where they
 * carry credentials; discovery and JWKS cacheable), except the device
 * flow's pages, where the provider makes none (main.ts adds this there).
 */
export const uncachedUnlessSaid: Middleware = (ctx, next) => {
  ctx.res.setHeader('Cache-Control', 'no-store');
  return next();
};
