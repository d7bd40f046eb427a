import Router from '@koa/router';
import type { Context } from 'koa';
import { type Client, type ClientService, GRANT_TYPES } from '../../clients/service.js';
import { readPaging } from '../../paging/parameters.js';
import type { ScopeRegistry } from '../../scopes/registry.js';
import { assertClientChangeable, isReservedClient } from '../../clients/reserved-clients.js';
import { actorOf, fieldErrors, type Form, formList, formText, readForm, seeOther, type SignedInPages } from '../../web/signed-in-pages.js';
import { ADMIN_PATH } from '../../web/paths.js';

export const DASHBOARD_PATH = '/Lux/OAuth2/dashboard';
const PER_PAGE = 20;
const DASHBOARD_GRANTS = GRANT_TYPES.filter((grant) => grant !== 'password');

export interface ClientPagesDeps {
  clients: ClientService;
  scopes: ScopeRegistry;
  pages: SignedInPages;
}

function lines(value: string): string[] {
  return value.split(/\r?\n/).map((line) => line.trim()).filter(Boolean);
}

/**
 * Where one mounting of the client pages lives: `base` holds the sign-in
 * routes and `${base}/clients/…`; `list` is the list's own address.
 */
interface ClientPagePaths {
  base: string;
  list: string;
}

/**
 * The client pages: a server-rendered admin UI over the shared client
 * service. They are the admin console's Clients section (/admin/clients)
 * and, unchanged, the Lux dashboard Lux's document describes
 * (/Lux/OAuth2/dashboard), which has no delete.
 */
function mountClientPages(router: Router, deps: ClientPagesDeps, paths: ClientPagePaths): void {
  const { clients, scopes, pages } = deps;
  const { base, list: listPath } = paths;
  const requireAdmin = pages.requireAdmin(base);
  const problemsOf = (error: unknown) => fieldErrors(error, { metadata: 'general', client_id: 'general' });
  const render = (ctx: Context, name: string, locals: Record<string, unknown>, status = 200) => pages.render(ctx, base, name, {
    section: 'clients',
    clientsHome: listPath,
    // Gatehouse's own clients are shown read-only (no Edit link).
    isReserved: isReservedClient,
    ...locals,
  }, status);

  router.get(listPath, requireAdmin, async (ctx) => {
    const q = typeof ctx.query.q === 'string' ? ctx.query.q.trim().slice(0, 200) : '';
    // The one paging rule: a malformed page is a 400 page, an out-of-range one clamps.
    const { page } = readPaging({ page: ctx.query.page }, { defaultPerPage: PER_PAGE, maxPerPage: PER_PAGE });
    const { total, clients: items } = await clients.list({ name: q || undefined, page, perPage: PER_PAGE });
    const pageCount = Math.max(1, Math.ceil(total / PER_PAGE));
    render(ctx, 'console/clients/list', { title: 'Clients', q, page, pages: pageCount, total, items });
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
      redirectText: typeof body.redirect_uris === 'string' ? body.redirect_uris : '',
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
    render(ctx, 'console/clients/show', { title: client.name, client, saved: ctx.query.saved === '1' });
  });

  router.get(`${base}/clients/:id/edit`, requireAdmin, async (ctx) => {
    assertClientChangeable(ctx.params.id!);
    const client = await clients.show(ctx.params.id!);
    render(ctx, 'console/clients/form', { title: `Edit ${client.name}`, mode: 'edit', client, ...(await formLocals(client)) });
  });

  router.post(`${base}/clients/:id`, readForm, requireAdmin, async (ctx) => {
    assertClientChangeable(ctx.params.id!);
    const current = await clients.show(ctx.params.id!);
    const input = readClientForm(ctx.request.body as Form);
    try {
      await clients.update(current.clientId, {
        name: input.name,
        description: input.description || null,
        redirectUris: lines(input.redirectText),
        scope: input.scope,
      }, actorOf(ctx));
      seeOther(ctx, `${base}/clients/${encodeURIComponent(current.clientId)}?saved=1`);
    } catch (error) {
      render(ctx, 'console/clients/form', { title: `Edit ${current.name}`, mode: 'edit', client: current, ...(await formLocals({ ...current, ...input }, problemsOf(error))) }, 422);
    }
  });
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
  mountClientPages(router, deps, { base: ADMIN_PATH, list: `${ADMIN_PATH}/clients` });
}
