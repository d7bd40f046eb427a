import type Router from '@koa/router';
import type { Context } from 'koa';
import { StaleWriteError } from '../../errors/app-error.js';
import type { ScopeRegistry } from '../../scopes/registry.js';
import { changedOnly, EditForm, lostRaceErrors } from '../../web/form-version.js';
import { ADMIN_PATH } from '../../web/paths.js';
import { actorOf, fieldErrors, type Form, formText, readForm, seeOther, type SignedInPages } from '../../web/signed-in-pages.js';
import { noticeOf } from '../../web/notices.js';
import { sectionRenderer } from './section.js';

const SCOPES = `${ADMIN_PATH}/scopes`;

export interface ScopePagesDeps {
  scopes: ScopeRegistry;
  pages: SignedInPages;
}

type Scope = Awaited<ReturnType<ScopeRegistry['show']>>;

function scopePath(scope: { name: string }, rest = ''): string {
  return `${SCOPES}/${encodeURIComponent(scope.name)}${rest}`;
}

/** The description and warning flag as a form sends them. */
function readScopeForm(body: Form): { description: string; warning: boolean } {
  return { description: formText(body, 'description'), warning: formText(body, 'warning') === 'true' };
}

/** The edit form's fields: a scope's description and warning flag, as shown and as posted. */
const EDIT_FORM = new EditForm<Scope, 'description' | 'warning'>({
  description: { label: 'Description', shown: (scope) => scope.description.trim(), posted: (form) => readScopeForm(form).description },
  warning: { label: 'Restricted (warning)', shown: (scope) => String(scope.warning === true), posted: (form) => String(readScopeForm(form).warning) },
});

const NOTICES: Record<string, string> = {
  added: 'Scope added.',
  saved: 'Scope saved. Consent pages and /v2/scopes show the new description at once.',
};

/**
 * The console's Scopes section: the registry (ScopeRegistry, as `scope list`
 * and `scope add [--replace]`), adding a scope and editing a scope's
 * description and warning. A scope is never renamed or removed here:
 * clients and grants hold it by name.
 */
export function mountScopePages(router: Router, deps: ScopePagesDeps): void {
  const { scopes, pages } = deps;
  const requireAdmin = pages.requireAdmin(ADMIN_PATH);
  const render = sectionRenderer(pages, 'scopes', { scopesHome: SCOPES, scopePath });

  async function listPage(ctx: Context, locals: Record<string, unknown> = {}, status = 200): Promise<void> {
    const highlight = typeof ctx.query.name === 'string' ? ctx.query.name : undefined;
    render(ctx, 'console/scopes/list', { title: 'Scopes', items: await scopes.list(), notice: noticeOf(ctx, NOTICES), highlight, values: {}, ...locals }, status);
  }

  router.get(SCOPES, requireAdmin, (ctx) => listPage(ctx));

  router.post(SCOPES, readForm, requireAdmin, async (ctx) => {
    const body = ctx.request.body as Form;
    const values = { name: formText(body, 'name'), ...readScopeForm(body) };
    try {
      const scope = await scopes.add(values, actorOf(ctx));
      seeOther(ctx, `${SCOPES}?done=added&name=${encodeURIComponent(scope.name)}`);
    } catch (error) {
      await listPage(ctx, { errors: fieldErrors(error), values }, 422);
    }
  });

  /** The edit form showing the scope as it is now, with the version it was loaded from. */
  const editPage = (ctx: Context, scope: Scope, errors: Record<string, string[]> = {}, status = 200) => {
    render(ctx, 'console/scopes/edit', { title: `Edit scope ${scope.name}`, scope, values: scope, formVersion: EDIT_FORM.version(scope), errors }, status);
  };

  router.get(`${SCOPES}/:name/edit`, requireAdmin, async (ctx) => {
    editPage(ctx, await scopes.show(ctx.params.name!));
  });

  // Only what this administrator changed on the form is written (see EditForm).
  router.post(`${SCOPES}/:name`, readForm, requireAdmin, async (ctx) => {
    const scope = await scopes.show(ctx.params.name!);
    const body = ctx.request.body as Form;
    const plan = EDIT_FORM.plan(body, scope);
    if (plan.outcome === 'conflict') {
      editPage(ctx, scope, EDIT_FORM.conflictErrors(plan), 409);
      return;
    }
    const values = readScopeForm(body);
    const done = `${SCOPES}?done=saved&name=${encodeURIComponent(scope.name)}`;
    // Nothing changed here: nothing to write (nor an audit event of a change that was not made).
    if (!plan.changed.size) {
      seeOther(ctx, done);
      return;
    }
    try {
      // Written only while the scope is still what this page judged against: a save racing another is a conflict, not a lost update.
      await scopes.update(scope.name, { description: scope.description, warning: scope.warning, ...changedOnly(plan.changed, values) }, actorOf(ctx), { asSeen: scope });
      seeOther(ctx, done);
    } catch (error) {
      if (error instanceof StaleWriteError) {
        editPage(ctx, await scopes.show(scope.name), lostRaceErrors(error.message), 409);
        return;
      }
      render(ctx, 'console/scopes/edit', { title: `Edit scope ${scope.name}`, scope, values, formVersion: EDIT_FORM.postedVersion(body), errors: fieldErrors(error) }, 422);
    }
  });
}
