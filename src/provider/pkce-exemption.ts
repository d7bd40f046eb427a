import type { Context } from 'koa';

/**
 * Lux clients were written before PKCE and send none. Their authorize path
 * marks its request so that a *confidential* client may go without PKCE
 * there, and only there (RFC 9700 §2.1.1 allows it for confidential clients
 * that use other means against code injection; Lux clients authenticate at
 * the token endpoint and their codes are single-use and bound to redirect_uri).
 */
export function exemptFromPkce(ctx: Pick<Context, 'state'>): void {
  ctx.state.pkceExempt = true;
}

export function pkceRequired(ctx: Partial<Pick<Context, 'state'>>, client: { clientAuthMethod?: string }): boolean {
  if (client.clientAuthMethod === 'none') return true;
  return ctx.state?.pkceExempt !== true;
}
