import type Router from '@koa/router';
import type { Context } from 'koa';
import { type PasswordResetLinks, ResetLinkUnusable } from '../accounts/reset-links.js';
import { ACCOUNT_PATH } from '../web/paths.js';
import { fieldErrors, type Form, readForm, type SignedInPages } from '../web/signed-in-pages.js';

const RESET = `${ACCOUNT_PATH}/reset/:token`;

/**
 * The page a one-time password-reset link opens, without signing in: the
 * new password twice, then the link is spent. A link that is unknown, used
 * or expired gets one plain page (404 or 410) that says which of the three
 * and nothing about the account.
 */
export function mountResetLinkPages(router: Router, deps: { resetLinks: PasswordResetLinks; pages: SignedInPages }): void {
  const { resetLinks, pages } = deps;

  const form = (ctx: Context, account: { username: string }, errors: Record<string, string[]> = {}, status = 200) => {
    pages.render(ctx, ACCOUNT_PATH, 'account/reset', { title: 'Choose a new password', account, action: ctx.path, errors }, status);
  };
  // The link is a secret: never cached, never sent on as a Referer (the layout says no-referrer too).
  const unusable = (ctx: Context, error: ResetLinkUnusable) => {
    pages.render(ctx, ACCOUNT_PATH, 'console/message', { title: error.reason === 'unknown' ? 'Link not valid' : 'Link no longer valid', message: error.message }, error.status);
  };
  const privately = async (ctx: Context, next: () => Promise<unknown>) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Referrer-Policy', 'no-referrer');
    try {
      await next();
    } catch (error) {
      if (!(error instanceof ResetLinkUnusable)) throw error;
      unusable(ctx, error);
    }
  };

  router.get(RESET, privately, async (ctx) => {
    form(ctx, (await resetLinks.check(ctx.params.token!)).account);
  });

  router.post(RESET, readForm, privately, async (ctx) => {
    const body = ctx.request.body as Form;
    // Passwords are taken as typed: spaces may be part of them.
    const text = (name: string) => (typeof body[name] === 'string' ? body[name] as string : '');
    try {
      await resetLinks.redeem(ctx.params.token!, text('password'), text('password_confirmation'), { ip: ctx.ip });
    } catch (error) {
      if (error instanceof ResetLinkUnusable) throw error;
      form(ctx, (await resetLinks.check(ctx.params.token!)).account, fieldErrors(error), 422);
      return;
    }
    pages.render(ctx, ACCOUNT_PATH, 'console/message', {
      title: 'Password set', message: 'Your new password is set, and every session that was signed in with your account has been signed out. Sign in with the new password.',
      action: ACCOUNT_PATH, actionLabel: 'Sign in',
    });
  });
}
