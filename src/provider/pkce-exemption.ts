import type { Context } from 'koa';

const KEY = 'gatehouseLegacyWithoutPkce';

/**
 * Lux clients were written before PKCE and send none. Their authorize path
 * marks its request so that a *confidential* client may go without PKCE
 * there, and only there (RFC 9700 §2.1.1 allows it for confidential clients
 * that use other means against code injection; Lux clients authenticate at
 * the token endpoint and their codes are single-use and bound to redirect_uri).
 */
export function exemptFromPkce(ctx: Pick<Context, 'state'>): void {
  ctx.state[KEY] = true;
}

export function pkceRequired(ctx: { state?: Record<string, unknown> }, client: { clientAuthMethod?: string }): boolean {
  if (client.clientAuthMethod === 'none') return true;
  return ctx.state?.[KEY] !== true;
}
