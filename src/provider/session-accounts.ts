import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';

/**
 * Ends a sign-in session whose account was disabled or deleted since it
 * began, before oidc-provider reads it. The provider loads the session's
 * account on every authorization request and treats a missing one as its own
 * failure (a 500), so a user disabled by an administrator would meet an error
 * page, not the login, until the session cookie expired. Ended here, the
 * request goes on as one without a session: the login page, which refuses
 * the account as it refuses any inactive one.
 */
export function endSessionsOfGoneAccounts(provider: Provider, isActive: (accountId: string) => Promise<boolean>): Middleware {
  return async (ctx, next) => {
    const session = await provider.Session.get(ctx as never);
    if (session.accountId && !(await isActive(session.accountId))) await session.destroy();
    await next();
  };
}
