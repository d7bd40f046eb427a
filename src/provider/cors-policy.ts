import type { KoaContextWithOIDC } from 'oidc-provider';

interface CorsClient { clientAuthMethod?: string; redirectUris?: readonly string[] }

/**
 * Which origins may read a client's answers from the token, introspection,
 * revocation, PAR, device authorization and userinfo endpoints (CORS). Only
 * a browser client's own pages: a public client (it runs in the browser, so
 * it cannot keep a secret) and only from the origin of one of its registered
 * redirect URIs. A confidential client talks to these endpoints from a
 * server, so no origin may read its answers; a page elsewhere must not be
 * able to drive a confidential client's secret from a user's browser.
 * Userinfo, called with the user's token rather than the client's secret,
 * answers any client's pages at their redirect origins.
 */
export function browserClientOrigin(ctx: KoaContextWithOIDC, origin: string, client: CorsClient): boolean {
  if (origin === 'null') return false;
  if (client.clientAuthMethod !== 'none' && ctx.oidc.route !== 'userinfo') return false;
  return (client.redirectUris ?? []).some((uri) => URL.parse(uri)?.origin === origin);
}

/**
 * What oidc-provider asks (its clientBasedCORS) the moment it has found the
 * request's client, before it checks the client's secret: always yes.
 * Refusing there (its 400 "origin not allowed") answered a known
 * confidential client otherwise than an unknown one (401) before any secret
 * was checked, telling a page which clients exist. Whether the origin may
 * read the answer is decided once the request is answered
 * (http/cors-after-client-auth.ts, with browserClientOrigin): a request the
 * policy refuses is still served, as it carries credentials that work from
 * anywhere outside a browser, but its answer cannot be read there.
 */
export function originDecidedAfterAuthentication(): boolean {
  return true;
}

