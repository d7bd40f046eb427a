import type { Middleware } from 'koa';

/**
 * oidc-provider allows a cross-origin read of a client-authenticating
 * endpoint's answer before it knows the client, and withdraws it only once a
 * client is authenticated and refused by the CORS policy (clientBasedCORS).
 * An answer with no authenticated client (an unknown client, a wrong secret,
 * a malformed request) would so be readable by any origin. This takes the
 * permission back whenever no client was authenticated: only the pages of a
 * browser client read answers (provider/cors-policy.ts).
 */
export const corsOnlyForAuthenticatedClients: Middleware = async (ctx, next) => {
  await next();
  if (ctx.method === 'OPTIONS' || !ctx.response.get('Access-Control-Allow-Origin')) return;
  const client = (ctx as unknown as { oidc?: { client?: unknown } }).oidc?.client;
  if (client) return;
  ctx.remove('Access-Control-Allow-Origin');
  ctx.remove('Access-Control-Expose-Headers');
};
