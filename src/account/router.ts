import Router from '@koa/router';
import type { Context } from 'koa';
import type { AccountService } from '../accounts/service.js';
import type { ClientService } from '../clients/service.js';
import { type FailureLimiter, TooManyFailures } from '../security/failure-limiter.js';
import { nameGrants } from '../web/grants.js';
import { ACCOUNT_PATH } from '../web/paths.js';
import { actorOf, fieldErrors, type Form, readForm, seeOther, sessionOf, type SignedInPages } from '../web/signed-in-pages.js';

export interface AccountPageDeps {
  accounts: AccountService;
  clients: ClientService;
  limiter: FailureLimiter;
  pages: SignedInPages;
}

/** What the page says after a change (by a fixed key, so the URL cannot put words on the page). */
const NOTICES: Record<string, string> = {
  password: 'Your password was changed.',
  withdrawn: 'Access withdrawn: the application’s tokens no longer work, and it must ask you again.',
};

/**
 * The account page at /account, for every signed-in user: their details,
 * a password change (the current password required), and the applications
 * they granted access to, each withdrawable. Through AccountService, as
 * every other surface.
 */
export function accountRouter(deps: AccountPageDeps): Router {
  const { accounts, clients, limiter, pages } = deps;
  const router = new Router();
  router.use(ACCOUNT_PATH, pages.errorPages(ACCOUNT_PATH, { href: ACCOUNT_PATH, label: 'Back to your account' }));
  pages.mountSignIn(router, ACCOUNT_PATH);
  const requireSession = pages.requireSession(ACCOUNT_PATH);

  async function accountPage(ctx: Context, locals: Record<string, unknown> = {}, status = 200): Promise<void> {
    const session = sessionOf(ctx);
    const { account, grants } = await accounts.grants(session.sub);
    pages.render(ctx, ACCOUNT_PATH, 'account/page', {
      title: 'Your account',
      section: 'account',
      account,
      grants: await nameGrants(clients, grants),
      // The grant behind this very page: withdrawing it is signing out, which the page offers instead.
      currentGrantId: session.grantId,
      notice: typeof ctx.query.done === 'string' ? NOTICES[ctx.query.done] : undefined,
      errors: {},
      ...locals,
    }, status);
  }

  router.get(ACCOUNT_PATH, requireSession, (ctx) => accountPage(ctx));

  router.post(`${ACCOUNT_PATH}/password`, readForm, requireSession, async (ctx) => {
    const body = ctx.request.body as Form;
    // Passwords are taken as typed: spaces may be part of them.
    const current = typeof body.current_password === 'string' ? body.current_password : '';
    const next = typeof body.new_password === 'string' ? body.new_password : '';
    const { name, sub } = sessionOf(ctx);
    let errors: Record<string, string[]> | undefined;
    try {
      // A wrong current password counts as a failed sign-in would (the same
      // limits), so a session left open cannot be used to guess it.
      await limiter.attemptPassword(name, ctx.ip, async () => {
        try {
          return await accounts.changePassword(sub, current, next, actorOf(ctx));
        } catch (error) {
          errors = fieldErrors(error);
          return errors.current_password ? undefined : null;
        }
      });
    } catch (error) {
      if (!(error instanceof TooManyFailures)) throw error;
      ctx.set('Retry-After', String(error.retryAfter));
      errors = { current_password: [`too many wrong attempts: wait ${error.retryAfter} seconds, then try again`] };
      await accountPage(ctx, { errors }, 429);
      return;
    }
    if (errors) {
      await accountPage(ctx, { errors }, 422);
      return;
    }
    seeOther(ctx, `${ACCOUNT_PATH}?done=password`);
  });

  router.post(`${ACCOUNT_PATH}/grants/:grantId/withdraw`, readForm, requireSession, async (ctx) => {
    await accounts.revokeGrant(sessionOf(ctx).sub, ctx.params.grantId!, actorOf(ctx));
    seeOther(ctx, `${ACCOUNT_PATH}?done=withdrawn`);
  });

  return router;
}
