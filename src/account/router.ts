import Router from '@koa/router';
import type { Context } from 'koa';
import type { PasswordResetLinks } from '../accounts/reset-links.js';
import type { AccountService } from '../accounts/service.js';
import type { ClientService } from '../clients/service.js';
import type { SignInSessionService } from '../sessions/service.js';
import { type FailureLimiter, TooManyFailures } from '../security/failure-limiter.js';
import { clientIdentity } from '../clients/client-identity.js';
import { noticeOf } from '../web/notices.js';
import { ACCOUNT_PATH } from '../web/paths.js';
import { mountResetLinkPages } from './reset-link.js';
import { actorOf, fieldErrors, type Form, readForm, seeOther, sessionOf, type SignedInPages } from '../web/signed-in-pages.js';

export interface AccountPageDeps {
  accounts: AccountService;
  clients: ClientService;
  sessions: SignInSessionService;
  resetLinks: PasswordResetLinks;
  /** The provider session this browser is signed in with ("this device"). */
  currentSession: (ctx: Context) => Promise<string | undefined>;
  limiter: FailureLimiter;
  pages: SignedInPages;
}

/** What the page says after a change (by a fixed key, so the URL cannot put words on the page). */
const NOTICES: Record<string, string> = {
  password: 'Your password was changed. Every other session is signed out; this one stays. Every application’s access is withdrawn: each must ask you again.',
  withdrawn: 'Access withdrawn: the application’s tokens no longer work, and it must ask you again.',
  signed_out: 'That session is signed out.',
  signed_out_others: 'Every other session is signed out; this one stays.',
};

/**
 * The account page at /account, for every signed-in user: their details,
 * a password change (the current password required), and the applications
 * they granted access to, each withdrawable. Through AccountService, as
 * every other surface.
 */
export function accountRouter(deps: AccountPageDeps): Router {
  const { accounts, clients, sessions, currentSession, limiter, pages } = deps;
  const router = new Router();
  router.use(ACCOUNT_PATH, pages.errorPages(ACCOUNT_PATH, { href: ACCOUNT_PATH, label: 'Back to your account' }));
  // Before sign-in is required: a reset link is for someone who cannot sign in.
  mountResetLinkPages(router, deps);
  pages.mountSignIn(router, ACCOUNT_PATH);
  const requireSession = pages.requireSession(ACCOUNT_PATH);

  async function accountPage(ctx: Context, locals: Record<string, unknown> = {}, status = 200): Promise<void> {
    const session = sessionOf(ctx);
    const [{ account, grants }, signedIn, current] = await Promise.all([accounts.grants(session.sub), sessions.ofAccount(session.sub), currentSession(ctx)]);
    pages.render(ctx, ACCOUNT_PATH, 'account/page', {
      sessions: signedIn,
      currentSession: current,
      sessionForm: (one: { sessionUid: string }) => `${ACCOUNT_PATH}/sessions/${encodeURIComponent(one.sessionUid)}/sign-out`,
      title: 'Your account',
      section: 'account',
      account,
      // Each application as every page names one (clients/client-identity.ts): not by its self-chosen name alone.
      grants: await Promise.all(grants.map(async (grant) => ({
        ...grant,
        client: await clients.identity(grant.clientId) ?? clientIdentity({ client_id: grant.clientId }),
      }))),
      // The grant behind this very page: withdrawing it is signing out, which the page offers instead.
      currentGrantId: session.grantId,
      notice: noticeOf(ctx, NOTICES),
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
    const { name, sub, grantId } = sessionOf(ctx);
    // This browser stays signed in, here: its session and this page's grant.
    const others = { keep: await currentSession(ctx), keepGrant: grantId };
    let errors: Record<string, string[]> | undefined;
    try {
      // A wrong current password counts as a failed sign-in would (the same
      // limits), so a session left open cannot be used to guess it.
      await limiter.attemptPassword(name, ctx.ip, async () => {
        try {
          return await accounts.changePassword(sub, current, next, actorOf(ctx), others);
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

  router.post(`${ACCOUNT_PATH}/sessions/sign-out-others`, readForm, requireSession, async (ctx) => {
    await sessions.revokeAllOf(sessionOf(ctx).sub, actorOf(ctx), await currentSession(ctx));
    seeOther(ctx, `${ACCOUNT_PATH}?done=signed_out_others`);
  });

  router.post(`${ACCOUNT_PATH}/sessions/:uid/sign-out`, readForm, requireSession, async (ctx) => {
    // Only the user's own: another account's session is not found, whatever its id.
    await sessions.revoke(ctx.params.uid!, actorOf(ctx), sessionOf(ctx).sub);
    seeOther(ctx, `${ACCOUNT_PATH}?done=signed_out`);
  });

  return router;
}
