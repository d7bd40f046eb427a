import type { Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { browserClientOrigin } from '../provider/cors-policy.js';

interface AnsweredClient { clientAuthMethod?: string; redirectUris?: readonly string[] }

/**
 * Who may read a client-authenticating endpoint's answer from a page,
 * decided once the request is answered. oidc-provider allows a
 * cross-origin read before it knows the client, and Gatehouse has it
 * decide nothing before the client is authenticated
 * (provider/cors-policy.ts, originDecidedAfterAuthentication). So here the
 * permission is taken back unless a client was authenticated (found, and
 * not refused with 401 invalid_client: a wrong secret answers exactly as an
 * unknown client does; userinfo's 401 invalid_token stays readable by the
 * token's client's pages) and, when the request names an Origin, that origin
 * is one of the client's pages (browserClientOrigin).
 */
export const corsOnlyForAuthenticatedClients: Middleware = async (ctx, next) => {
  await next();
  if (ctx.method === 'OPTIONS' || !ctx.response.get('Access-Control-Allow-Origin')) return;
  const client = (ctx as unknown as { oidc?: { client?: AnsweredClient } }).oidc?.client;
  const origin = ctx.get('Origin');
  const refusedClient = ctx.status === 401 && (ctx.body as { error?: unknown } | undefined)?.error === 'invalid_client';
  if (client && !refusedClient && (!origin || browserClientOrigin(ctx as unknown as KoaContextWithOIDC, origin, client))) return;
  ctx.remove('Access-Control-Allow-Origin');
  ctx.remove('Access-Control-Expose-Headers');
};
