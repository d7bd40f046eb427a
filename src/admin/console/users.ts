import type Router from '@koa/router';
import type { Context } from 'koa';
import { ROLES } from '../../accounts/roles.js';
import type { Account, AccountService } from '../../accounts/service.js';
import type { PasswordResetLinks } from '../../accounts/reset-links.js';
import type { ClientService } from '../../clients/service.js';
import type { SignInSessionService } from '../../sessions/service.js';
import { ConflictError, StaleWriteError, ValidationError } from '../../errors/app-error.js';
import { readPaging } from '../../paging/parameters.js';
import { changedOnly, choices, EditForm, lostRaceErrors } from '../../web/form-version.js';
import { nameGrants } from '../../web/grants.js';
import { ADMIN_PATH, resetLinkPath } from '../../web/paths.js';
import { noticeOf } from '../../web/notices.js';
import { sessionPath } from './sessions.js';
import { actorOf, fieldErrors, type Form, formList, formText, readForm, seeOther, sessionOf, type SignedInPages } from '../../web/signed-in-pages.js';

const USERS = `${ADMIN_PATH}/users`;
const PER_PAGE = 20;

export interface UserPagesDeps {
  accounts: AccountService;
  clients: ClientService;
  sessions: SignInSessionService;
  resetLinks: PasswordResetLinks;
  pages: SignedInPages;
}

/** The service's field names as the forms name them. */
const FORM_FIELDS = { role: 'roles' };
// Whatever an administrator does here leaves another active administrator
// (an atomic guard: two demoting each other at once cannot both succeed).
const KEEP_AN_ADMIN = { keepAnAdmin: true };

/** The edit form's fields: what it shows of an account, and what a posted form sends. */
const EDIT_FORM = new EditForm<Account, 'name' | 'email' | 'roles'>({
  name: { label: 'Name', shown: (account) => account.name ?? '', posted: (form) => formText(form, 'name') },
  email: { label: 'Email', shown: (account) => account.email ?? '', posted: (form) => formText(form, 'email') },
  roles: { label: 'Roles', shown: (account) => choices(account.roles), posted: (form) => choices(formList(form.roles)) },
});

function userPath(account: Pick<Account, 'id'>, rest = ''): string {
  return `${USERS}/${encodeURIComponent(account.id)}${rest}`;
}

/**
 * The console's Users section: search and page, create, edit, disable and
 * enable, set a password, delete, and a user's grants. Every change goes
 * through AccountService, as the CLI's `user` commands do, with the acting
 * administrator as the audit event's actor.
 */
export function mountUserPages(router: Router, deps: UserPagesDeps): void {
  const { accounts, clients, sessions, resetLinks, pages } = deps;
  const requireAdmin = pages.requireAdmin(ADMIN_PATH);
  const render = (ctx: Context, name: string, locals: Record<string, unknown>, status = 200) => pages.render(ctx, ADMIN_PATH, name, {
    section: 'users', usersHome: USERS, userPath, roles: ROLES, errors: {}, resetLinkValidity: validity(resetLinks.lifetimeSeconds), ...locals,
  }, status);

  /**
   * The console refuses to lock its own administrator out (no one else may
   * be left to undo it); the CLI, run by an operator, still can.
   */
  function selfLockout(ctx: Context, account: Account, change: { roles?: string[]; active?: boolean; deleted?: boolean }): string | undefined {
    if (account.id !== sessionOf(ctx).sub) return undefined;
    if (change.deleted) return 'You cannot delete your own account here: ask another administrator, or use the CLI.';
    if (change.active === false) return 'You cannot disable your own account here: ask another administrator, or use the CLI.';
    if (change.roles && !change.roles.includes('admin')) return 'You cannot remove your own admin role here: ask another administrator, or use the CLI.';
    return undefined;
  }

  async function showPage(ctx: Context, account: Account, locals: Record<string, unknown> = {}, status = 200): Promise<void> {
    const [{ grants }, signedIn] = await Promise.all([accounts.grants(account.id), sessions.ofAccount(account.id)]);
    render(ctx, 'console/users/show', {
      title: account.username, account, grants: await nameGrants(clients, grants), isSelf: account.id === sessionOf(ctx).sub,
      sessions: signedIn, sessionLink: (session: { sessionUid: string }) => sessionPath(session, '?back=user'),
      notice: noticeOf(ctx, NOTICES), ...locals,
    }, status);
  }

  router.get(USERS, requireAdmin, async (ctx) => {
    const q = typeof ctx.query.q === 'string' ? ctx.query.q.trim().slice(0, 200) : '';
    // The one paging rule: a malformed page is a 400 page, an out-of-range one clamps.
    const { page } = readPaging({ page: ctx.query.page }, { defaultPerPage: PER_PAGE, maxPerPage: PER_PAGE });
    const { total, accounts: items } = await accounts.list({ search: q || undefined, page, perPage: PER_PAGE });
    render(ctx, 'console/users/list', { title: 'Users', q, page, pages: Math.max(1, Math.ceil(total / PER_PAGE)), total, items, notice: noticeOf(ctx, LIST_NOTICES) });
  });

  router.get(`${USERS}/new`, requireAdmin, (ctx) => {
    render(ctx, 'console/users/form', { title: 'New user', mode: 'create', values: { roles: [] } });
  });

  router.post(USERS, readForm, requireAdmin, async (ctx) => {
    const body = ctx.request.body as Form;
    const values = { username: formText(body, 'username'), email: formText(body, 'email'), name: formText(body, 'name'), roles: formList(body.roles) };
    // Passwords are taken as typed: spaces may be part of them.
    const password = typeof body.password === 'string' ? body.password : '';
    try {
      const account = await accounts.create({ ...values, password, email: values.email || undefined, name: values.name || undefined }, actorOf(ctx));
      seeOther(ctx, userPath(account, '?done=created'));
    } catch (error) {
      render(ctx, 'console/users/form', { title: 'New user', mode: 'create', values, errors: fieldErrors(error, FORM_FIELDS) }, 422);
    }
  });

  router.get(`${USERS}/:id`, requireAdmin, async (ctx) => {
    await showPage(ctx, await accounts.show(ctx.params.id!));
  });

  /** The edit form showing the account as it is now, with the version it was loaded from. */
  function editPage(ctx: Context, account: Account, errors: Record<string, string[]> = {}, status = 200): void {
    render(ctx, 'console/users/form', {
      title: `Edit ${account.username}`, mode: 'edit', account, values: { ...account, email: account.email ?? '', name: account.name ?? '' },
      formVersion: EDIT_FORM.version(account), errors,
    }, status);
  }

  router.get(`${USERS}/:id/edit`, requireAdmin, async (ctx) => {
    editPage(ctx, await accounts.show(ctx.params.id!));
  });

  // Only what this administrator changed on the form is written (see EditForm).
  router.post(`${USERS}/:id`, readForm, requireAdmin, async (ctx) => {
    const account = await accounts.show(ctx.params.id!);
    const body = ctx.request.body as Form;
    const plan = EDIT_FORM.plan(body, account);
    if (plan.outcome === 'conflict') {
      editPage(ctx, account, EDIT_FORM.conflictErrors(plan), 409);
      return;
    }
    const values = { email: formText(body, 'email'), name: formText(body, 'name'), roles: formList(body.roles) };
    const patch = changedOnly(plan.changed, { email: values.email || null, name: values.name || null, roles: values.roles });
    const refused = selfLockout(ctx, account, { roles: patch.roles });
    try {
      if (refused) throw new ValidationError([{ field: 'role', message: refused }]);
      // Written only while what this page judged against still stands: a save racing another is a conflict, not a lost update.
      await accounts.update(account.id, patch, actorOf(ctx), { ...KEEP_AN_ADMIN, asSeen: account });
      seeOther(ctx, userPath(account, '?done=saved'));
    } catch (error) {
      if (error instanceof StaleWriteError) {
        editPage(ctx, await accounts.show(account.id), lostRaceErrors(error.message), 409);
        return;
      }
      render(ctx, 'console/users/form', {
        title: `Edit ${account.username}`, mode: 'edit', account, values, formVersion: EDIT_FORM.postedVersion(body), errors: fieldErrors(error, FORM_FIELDS),
      }, 422);
    }
  });

  router.post(`${USERS}/:id/status`, readForm, requireAdmin, async (ctx) => {
    const account = await accounts.show(ctx.params.id!);
    // The form's two buttons send true or false; anything else (a missing field) decides nothing.
    const posted = formText(ctx.request.body as Form, 'active');
    if (posted !== 'true' && posted !== 'false') {
      await showPage(ctx, account, { errors: { status: ['Say whether to enable or disable the user (active: true or false); nothing was changed.'] } }, 422);
      return;
    }
    const active = posted === 'true';
    const refused = selfLockout(ctx, account, { active });
    if (refused) {
      await showPage(ctx, account, { errors: { status: [refused] } }, 422);
      return;
    }
    // Disabling signs the user out everywhere: the service revokes their grants and tokens.
    try {
      await accounts.update(account.id, { active }, actorOf(ctx), KEEP_AN_ADMIN);
    } catch (error) {
      // The last administrator, or a change racing others: said as it is; anything else is not the form's to answer.
      if (!(error instanceof ConflictError)) throw error;
      await showPage(ctx, account, { errors: { status: [error.message] } }, 409);
      return;
    }
    seeOther(ctx, userPath(account, active ? '?done=enabled' : '?done=disabled'));
  });

  router.get(`${USERS}/:id/password`, requireAdmin, async (ctx) => {
    const account = await accounts.show(ctx.params.id!);
    render(ctx, 'console/users/password', { title: `New password for ${account.username}`, account });
  });

  router.post(`${USERS}/:id/password`, readForm, requireAdmin, async (ctx) => {
    const account = await accounts.show(ctx.params.id!);
    const password = (ctx.request.body as Form).password;
    try {
      await accounts.setPassword(account.id, typeof password === 'string' ? password : '', actorOf(ctx));
      seeOther(ctx, userPath(account, '?done=password'));
    } catch (error) {
      render(ctx, 'console/users/password', { title: `New password for ${account.username}`, account, errors: fieldErrors(error) }, 422);
    }
  });

  // The link is on this answer only: its secret is stored as a hash, so no page can show it again.
  router.post(`${USERS}/:id/reset-link`, readForm, requireAdmin, async (ctx) => {
    const { account, token, expiresAt } = await resetLinks.create(ctx.params.id!, actorOf(ctx));
    ctx.set('Cache-Control', 'no-store');
    render(ctx, 'console/users/reset-link', { title: `Reset link for ${account.username}`, account, link: pages.absolute(resetLinkPath(token)), expiresAt });
  });

  router.get(`${USERS}/:id/delete`, requireAdmin, async (ctx) => {
    const account = await accounts.show(ctx.params.id!);
    const { grants } = await accounts.grants(account.id);
    render(ctx, 'console/users/delete', {
      title: `Delete ${account.username}`, account, grants: await nameGrants(clients, grants), refused: selfLockout(ctx, account, { deleted: true }),
    });
  });

  router.post(`${USERS}/:id/delete`, readForm, requireAdmin, async (ctx) => {
    const account = await accounts.show(ctx.params.id!);
    const refused = selfLockout(ctx, account, { deleted: true });
    if (refused) {
      render(ctx, 'console/users/delete', { title: `Delete ${account.username}`, account, grants: [], refused }, 422);
      return;
    }
    // The typed username is the confirmation: a stray click or a resent form deletes nothing.
    if (formText(ctx.request.body as Form, 'confirm') !== account.username) {
      const { grants } = await accounts.grants(account.id);
      render(ctx, 'console/users/delete', {
        title: `Delete ${account.username}`, account, grants: await nameGrants(clients, grants),
        errors: { confirm: [`type the username, ${account.username}, to confirm`] },
      }, 422);
      return;
    }
    try {
      await accounts.delete(account.id, actorOf(ctx), KEEP_AN_ADMIN);
    } catch (error) {
      render(ctx, 'console/users/delete', { title: `Delete ${account.username}`, account, grants: [], refused: (fieldErrors(error).role ?? []).join(' ') }, 409);
      return;
    }
    seeOther(ctx, `${USERS}?done=deleted`);
  });

  router.post(`${USERS}/:id/grants/:grantId/revoke`, readForm, requireAdmin, async (ctx) => {
    const { account } = await accounts.revokeGrant(ctx.params.id!, ctx.params.grantId!, actorOf(ctx));
    seeOther(ctx, userPath(account, '?done=revoked'));
  });
}

/** A link's lifetime as the password page states it. */
function validity(seconds: number): string {
  const [count, unit] = seconds >= 7200 ? [Math.round(seconds / 3600), 'hour'] : [Math.max(1, Math.round(seconds / 60)), 'minute'];
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}

/** What the user page says after a change (by a fixed key, so the URL cannot put words on the page). */
const NOTICES: Record<string, string> = {
  created: 'User created.',
  saved: 'Changes saved.',
  enabled: 'User enabled: they can sign in again.',
  disabled: 'User disabled: they are signed out everywhere and cannot sign in.',
  password: 'New password set. They are signed out everywhere, their tokens are revoked, and their outstanding reset links no longer work.',
  revoked: 'Access revoked: the grant and every token issued under it no longer work.',
  session_revoked: 'Session ended: that browser is signed out of Gatehouse.',
};

/**
 * What the list says after a deletion. Without the user's name: the list's
 * URL is anyone's to write, and a name taken from it would let a link put
 * its own words on a page of the console.
 */
const LIST_NOTICES: Record<string, string> = {
  deleted: 'User deleted, with their grants and tokens.',
};
