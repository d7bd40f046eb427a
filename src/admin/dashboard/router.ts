import Router from '@koa/router';
import type { Context } from 'koa';
import { type Client, type ClientService, GRANT_TYPES } from '../../clients/service.js';
import { readPaging } from '../../paging/parameters.js';
import { StaleWriteError } from '../../errors/app-error.js';
import { DIALECT_NAMES, type DialectUsage } from '../../clients/dialect-usage.js';
import type { ScopeRegistry } from '../../scopes/registry.js';
import { assertClientChangeable, isReservedClient } from '../../clients/reserved-clients.js';
import { actorOf, fieldErrors, type Form, formList, formText, readForm, seeOther, type SignedInPages } from '../../web/signed-in-pages.js';
import { changedOnly, choices, EditForm, lostRaceErrors } from '../../web/form-version.js';
import { ADMIN_PATH } from '../../web/paths.js';
import { noticeOf } from '../../web/notices.js';

export const DASHBOARD_PATH = '/Lux/OAuth2/dashboard';
const PER_PAGE = 20;
const DASHBOARD_GRANTS = GRANT_TYPES.filter((grant) => grant !== 'password');

export interface ClientPagesDeps {
  clients: ClientService;
  scopes: ScopeRegistry;
  pages: SignedInPages;
  /** The console shows which dialects a client's tokens were obtained through. */
  dialects?: DialectUsage;
}

function lines(value: string): string[] {
  return value.split(/\r?\n/).map((line) => line.trim()).filter(Boolean);
}

/** A posted field a form may leave out or repeat (a textarea): its text, untrimmed ('' when absent or repeated). */
function formTextarea(form: Form, name: string): string {
  return typeof form[name] === 'string' ? form[name] : '';
}

/**
 * The edit form's fields, as shown and as posted (the grant types are not on
 * it: they are chosen when the client is created).
 */
const EDIT_FORM = new EditForm<Client, 'name' | 'description' | 'redirect_uris' | 'scope'>({
  name: { label: 'Name', shown: (client) => client.name.trim(), posted: (form) => formText(form, 'name') },
  description: { label: 'Description', shown: (client) => (client.description ?? '').trim(), posted: (form) => formText(form, 'description') },
  redirect_uris: { label: 'Redirect URIs', shown: (client) => lines(client.redirectUris.join('\n')), posted: (form) => lines(formTextarea(form, 'redirect_uris')) },
  scope: { label: 'Scopes', shown: (client) => choices(client.scope), posted: (form) => choices(formList(form.scope)) },
});

/**
 * Where one mounting of the client pages lives: `base` holds the sign-in
 * routes and `${base}/clients/…`; `list` is the list's own address.
 */
interface ClientPagePaths {
  base: string;
  list: string;
  /** Delete and secret rotation: in the console, not on the Lux dashboard, which Lux's document gives no delete. */
  manage?: boolean;
}

/**
 * What the console's list says after a deletion, by a fixed key. Without
 * the client's name: the list's URL is anyone's to write, and a name taken
 * from it would let a link put its own words on a page of the console.
 */
const LIST_NOTICES: Record<string, string> = {
  deleted: 'Client deleted, with its grants and tokens.',
};

/** The grace periods the rotation form offers, in seconds (the service accepts 0 to 30 days). */
const GRACE_CHOICES = [
  { seconds: 0, label: 'None: the old secret stops working at once' },
  { seconds: 3600, label: '1 hour' },
  { seconds: 86_400, label: '1 day' },
  { seconds: 7 * 86_400, label: '7 days' },
  { seconds: 30 * 86_400, label: '30 days' },
];

/**
 * The client pages: a server-rendered admin UI over the shared client
 * service. They are the admin console's Clients section (/admin/clients)
 * and, unchanged, the Lux dashboard Lux's document describes
 * (/Lux/OAuth2/dashboard), which has no delete.
 */
function mountClientPages(router: Router, deps: ClientPagesDeps, paths: ClientPagePaths): void {
  const { clients, scopes, pages } = deps;
  const { base, list: listPath, manage = false } = paths;
  const requireAdmin = pages.requireAdmin(base);
  const problemsOf = (error: unknown) => fieldErrors(error, { metadata: 'general', client_id: 'general' });
  const render = (ctx: Context, name: string, locals: Record<string, unknown>, status = 200) => pages.render(ctx, base, name, {
    section: 'clients',
    clientsHome: listPath,
    // Gatehouse's own clients are shown read-only (no Edit link).
    isReserved: isReservedClient,
    manage,
    ...locals,
  }, status);

  router.get(listPath, requireAdmin, async (ctx) => {
    const q = typeof ctx.query.q === 'string' ? ctx.query.q.trim().slice(0, 200) : '';
    // The one paging rule: a malformed page is a 400 page, an out-of-range one clamps.
    const { page } = readPaging({ page: ctx.query.page }, { defaultPerPage: PER_PAGE, maxPerPage: PER_PAGE });
    const { total, clients: items } = await clients.list({ name: q || undefined, page, perPage: PER_PAGE });
    const pageCount = Math.max(1, Math.ceil(total / PER_PAGE));
    render(ctx, 'console/clients/list', { title: 'Clients', q, page, pages: pageCount, total, items, notice: manage ? noticeOf(ctx, LIST_NOTICES) : undefined });
  });

  async function formLocals(values: Partial<Client> & { redirectText?: string }, errors: Record<string, string[]> = {}) {
    return {
      registry: await scopes.list(),
      grants: DASHBOARD_GRANTS,
      values: { ...values, redirectText: values.redirectText ?? (values.redirectUris ?? []).join('\n') },
      errors,
    };
  }

  function readClientForm(body: Form) {
    return {
      name: formText(body, 'name'),
      description: formText(body, 'description'),
      redirectText: formTextarea(body, 'redirect_uris'),
      scope: formList(body.scope),
      grantTypes: formList(body.grant_types),
    };
  }

  router.get(`${base}/clients/new`, requireAdmin, async (ctx) => {
    render(ctx, 'console/clients/form', { title: 'New client', mode: 'create', ...(await formLocals({ grantTypes: ['authorization_code'], scope: ['openid', 'profile'] })) });
  });

  router.post(`${base}/clients`, readForm, requireAdmin, async (ctx) => {
    const input = readClientForm(ctx.request.body as Form);
    try {
      const { client, clientSecret } = await clients.create({
        name: input.name,
        description: input.description || undefined,
        redirectUris: lines(input.redirectText),
        scope: input.scope,
        grantTypes: input.grantTypes,
      }, actorOf(ctx));
      // The secret is shown on this page only; it is never displayed again.
      ctx.set('Cache-Control', 'no-store');
      render(ctx, 'console/clients/created', { title: 'Client created', client, secret: clientSecret });
    } catch (error) {
      render(ctx, 'console/clients/form', { title: 'New client', mode: 'create', ...(await formLocals(input, problemsOf(error))) }, 422);
    }
  });

  router.get(`${base}/clients/:id`, requireAdmin, async (ctx) => {
    const client = await clients.show(ctx.params.id!);
    const [refreshTokens, accessTokens, dialectUses] = manage
      ? await Promise.all([clients.refreshTokenCount(client.clientId), clients.accessTokenCount(client.clientId), deps.dialects?.of(client.clientId)])
      : [];
    render(ctx, 'console/clients/show', { title: client.name, client, refreshTokens, accessTokens, dialectUses, dialectNames: DIALECT_NAMES, saved: ctx.query.saved === '1' });
  });

  if (manage) mountClientManagement(router, deps, render, base, listPath);

  /** The edit form showing the client as it is now, with the version it was loaded from. */
  const editPage = async (ctx: Context, client: Client, errors: Record<string, string[]> = {}, status = 200) => {
    render(ctx, 'console/clients/form', { title: `Edit ${client.name}`, mode: 'edit', client, formVersion: EDIT_FORM.version(client), ...(await formLocals(client, errors)) }, status);
  };

  router.get(`${base}/clients/:id/edit`, requireAdmin, async (ctx) => {
    assertClientChangeable(ctx.params.id!);
    await editPage(ctx, await clients.show(ctx.params.id!));
  });

  // Only what this administrator changed on the form is written (see EditForm);
  // the service applies it to the client as stored then (ClientService.update).
  router.post(`${base}/clients/:id`, readForm, requireAdmin, async (ctx) => {
    assertClientChangeable(ctx.params.id!);
    const current = await clients.show(ctx.params.id!);
    const body = ctx.request.body as Form;
    const plan = EDIT_FORM.plan(body, current);
    if (plan.outcome === 'conflict') {
      await editPage(ctx, current, EDIT_FORM.conflictErrors(plan), 409);
      return;
    }
    const input = readClientForm(body);
    const change = changedOnly(plan.changed, {
      name: input.name, description: input.description || null, redirect_uris: lines(input.redirectText), scope: input.scope,
    });
    try {
      // Written only while what this page judged against still stands: a save racing another is a conflict, not a lost update.
      await clients.update(current.clientId, {
        name: change.name, description: change.description, redirectUris: change.redirect_uris, scope: change.scope,
      }, actorOf(ctx), { asSeen: current });
      seeOther(ctx, `${base}/clients/${encodeURIComponent(current.clientId)}?saved=1`);
    } catch (error) {
      if (error instanceof StaleWriteError) {
        await editPage(ctx, await clients.show(current.clientId), lostRaceErrors(error.message), 409);
        return;
      }
      render(ctx, 'console/clients/form', {
        title: `Edit ${current.name}`, mode: 'edit', client: current, formVersion: EDIT_FORM.postedVersion(body), ...(await formLocals({ ...current, ...input }, problemsOf(error))),
      }, 422);
    }
  });
}

type Render = (ctx: Context, name: string, locals: Record<string, unknown>, status?: number) => void;

/**
 * The console's destructive client actions, each behind a page of its own:
 * secret rotation (the new secret shown once, with an optional grace period
 * for the old one, as `client rotate-secret --grace`) and deletion (after a
 * confirmation naming what goes with the client, as `client delete`).
 */
function mountClientManagement(router: Router, deps: ClientPagesDeps, render: Render, base: string, listPath: string): void {
  const { clients, pages } = deps;
  const requireAdmin = pages.requireAdmin(base);
  const rotateLocals = (client: Client) => ({ title: `New secret for ${client.name}`, client, choices: GRACE_CHOICES, isPublic: client.public });

  router.get(`${base}/clients/:id/rotate`, requireAdmin, async (ctx) => {
    assertClientChangeable(ctx.params.id!);
    const client = await clients.show(ctx.params.id!);
    render(ctx, 'console/clients/rotate', { ...rotateLocals(client), values: { grace: '0' } });
  });

  router.post(`${base}/clients/:id/rotate`, readForm, requireAdmin, async (ctx) => {
    assertClientChangeable(ctx.params.id!);
    const client = await clients.show(ctx.params.id!);
    const grace = formText(ctx.request.body as Form, 'grace');
    try {
      // Not a whole number: the service's own message, for the same field.
      const seconds = /^\d{1,8}$/.test(grace) ? Number(grace) : Number.NaN;
      const rotated = await clients.rotateSecret(client.clientId, seconds, actorOf(ctx));
      // The secret is shown on this page only; it is never displayed again.
      render(ctx, 'console/clients/created', {
        title: 'New client secret', rotated: true, client: rotated.client, secret: rotated.clientSecret, previousValidUntil: rotated.previousValidUntil,
      });
    } catch (error) {
      render(ctx, 'console/clients/rotate', { ...rotateLocals(client), values: { grace }, errors: problemsOfRotation(error) }, 422);
    }
  });

  router.get(`${base}/clients/:id/delete`, requireAdmin, async (ctx) => {
    assertClientChangeable(ctx.params.id!);
    const client = await clients.show(ctx.params.id!);
    render(ctx, 'console/clients/delete', { title: `Delete ${client.name}`, client, refreshTokens: await clients.refreshTokenCount(client.clientId), errors: {} });
  });

  router.post(`${base}/clients/:id/delete`, readForm, requireAdmin, async (ctx) => {
    assertClientChangeable(ctx.params.id!);
    const client = await clients.show(ctx.params.id!);
    // The typed client ID is the confirmation: a stray click or a resent form deletes nothing.
    if (formText(ctx.request.body as Form, 'confirm') !== client.clientId) {
      render(ctx, 'console/clients/delete', {
        title: `Delete ${client.name}`, client, refreshTokens: await clients.refreshTokenCount(client.clientId),
        errors: { confirm: [`type the client ID, ${client.clientId}, to confirm`] },
      }, 422);
      return;
    }
    await clients.delete(client.clientId, actorOf(ctx));
    seeOther(ctx, `${listPath}?done=deleted`);
  });
}

/** A refused rotation: the grace period's problem next to its field, any other at the top. */
function problemsOfRotation(error: unknown): Record<string, string[]> {
  return fieldErrors(error, { client_secret: 'general' });
}

/** The Lux dashboard: its own sign-in routes, and the console's client pages under its path. */
export function dashboardRouter(deps: ClientPagesDeps): Router {
  const router = new Router();
  router.use(DASHBOARD_PATH, deps.pages.errorPages(DASHBOARD_PATH, { href: DASHBOARD_PATH, label: 'Back to clients' }));
  deps.pages.mountSignIn(router, DASHBOARD_PATH);
  mountClientPages(router, deps, { base: DASHBOARD_PATH, list: DASHBOARD_PATH });
  return router;
}

/** The admin console's Clients section. */
export function mountConsoleClientPages(router: Router, deps: ClientPagesDeps): void {
  mountClientPages(router, deps, { base: ADMIN_PATH, list: `${ADMIN_PATH}/clients`, manage: true });
}
