import type Router from '@koa/router';
import type { Context } from 'koa';
import type { AccountService } from '../../accounts/service.js';
import { readPaging } from '../../paging/parameters.js';
import type { SignInSession, SignInSessionService } from '../../sessions/service.js';
import { ADMIN_PATH } from '../../web/paths.js';
import { actorOf, type Form, formText, readForm, seeOther, type SignedInPages } from '../../web/signed-in-pages.js';

export const SESSIONS = `${ADMIN_PATH}/sessions`;
const PER_PAGE = 20;

export interface SessionPagesDeps {
  accounts: AccountService;
  sessions: SignInSessionService;
  pages: SignedInPages;
}

export function sessionPath(session: Pick<SignInSession, 'sessionUid'>, rest = ''): string {
  return `${SESSIONS}/${encodeURIComponent(session.sessionUid)}${rest}`;
}

/** Where each session's user links to, by the username when the account still exists. */
async function withUsers(accounts: AccountService, sessions: SignInSession[]): Promise<Map<string, string>> {
  const ids = [...new Set(sessions.map((session) => session.accountId))];
  const found = await Promise.all(ids.map((id) => accounts.findById(id)));
  return new Map(ids.map((id, i) => [id, found[i]?.username ?? id]));
}

/**
 * The console's Sessions section: who is signed in to Gatehouse, from where
 * and since when (the session index, paged in the store), and ending one
 * after a confirmation page. Through SignInSessionService, as the account
 * page and the CLI's `session` commands.
 */
export function mountSessionPages(router: Router, deps: SessionPagesDeps): void {
  const { accounts, sessions, pages } = deps;
  const requireAdmin = pages.requireAdmin(ADMIN_PATH);
  const userHref = (accountId: string) => `${ADMIN_PATH}/users/${encodeURIComponent(accountId)}`;
  const render = (ctx: Context, name: string, locals: Record<string, unknown>, status = 200) => pages.render(ctx, ADMIN_PATH, name, {
    section: 'sessions', sessionsHome: SESSIONS, sessionPath, userHref, errors: {}, ...locals,
  }, status);

  router.get(SESSIONS, requireAdmin, async (ctx) => {
    const { page } = readPaging({ page: ctx.query.page }, { defaultPerPage: PER_PAGE, maxPerPage: PER_PAGE });
    const { total, sessions: items } = await sessions.list({ page, perPage: PER_PAGE });
    const names = await withUsers(accounts, items);
    render(ctx, 'console/sessions/list', {
      title: 'Sessions', page, pages: Math.max(1, Math.ceil(total / PER_PAGE)), total, items,
      userOf: (session: SignInSession) => ({ href: userHref(session.accountId), name: names.get(session.accountId) }),
      notice: ctx.query.done === 'revoked' ? 'Session ended: that browser is signed out of Gatehouse.' : undefined,
    });
  });

  router.get(`${SESSIONS}/:uid`, requireAdmin, async (ctx) => {
    const session = await sessions.show(ctx.params.uid!);
    const username = (await withUsers(accounts, [session])).get(session.accountId);
    render(ctx, 'console/sessions/revoke', { title: `Sign out a session of ${username}`, session, username, back: ctx.query.back === 'user' ? 'user' : 'list' });
  });

  router.post(`${SESSIONS}/:uid/revoke`, readForm, requireAdmin, async (ctx) => {
    const session = await sessions.revoke(ctx.params.uid!, actorOf(ctx));
    const back = formText(ctx.request.body as Form, 'back');
    seeOther(ctx, back === 'user' ? `${userHref(session.accountId)}?done=session_revoked` : `${SESSIONS}?done=revoked`);
  });
}
