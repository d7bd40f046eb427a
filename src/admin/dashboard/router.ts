import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { AccountService } from '../../accounts/service.js';
import { type Client, type ClientService, GRANT_TYPES } from '../../clients/service.js';
import { AppError, ConflictError, type FieldProblem, ValidationError } from '../../errors/app-error.js';
import { renderPage, type Views } from '../../http/views.js';
import type { Logger } from '../../observability/logger.js';
import { readPaging } from '../../paging/parameters.js';
import type { ScopeRegistry } from '../../scopes/registry.js';
import { assertClientChangeable, isReservedClient } from '../../clients/reserved-clients.js';
import { type DashboardOidcClient, signInFailureReason } from './oidc-client.js';
import type { DashboardCookies, DashboardSession, SignInGrants } from './session.js';

export const DASHBOARD_PATH = '/Lux/OAuth2/dashboard';
const PER_PAGE = 20;
const DASHBOARD_GRANTS = GRANT_TYPES.filter((grant) => grant !== 'password');

export interface DashboardDeps {
  issuer: string;
  clients: ClientService;
  scopes: ScopeRegistry;
  accounts: AccountService;
  oidc: DashboardOidcClient;
  cookies: DashboardCookies;
  grants: SignInGrants;
  views: Views;
  logger: Logger;
}

type Form = Record<string, unknown>;

/**
 * Every dashboard redirect is a 303: a browser follows it with a GET, never
 * replaying a posted form (RFC 9700 §4.12), whatever method led here.
 */
function seeOther(ctx: Context, location: string): void {
  ctx.redirect(location);
  ctx.status = 303;
}

function list(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter((item): item is string => typeof item === 'string');
}

function text(form: Form, name: string): string {
  const value = form[name];
  return typeof value === 'string' ? value.trim() : '';
}

function lines(value: string): string[] {
  return value.split(/\r?\n/).map((line) => line.trim()).filter(Boolean);
}

/** Field problems keyed by the form field they belong next to. */
function byField(problems: FieldProblem[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const { field, message } of problems) {
    const name = field === 'metadata' || field === 'client_id' ? 'general' : field;
    (out[name] ??= []).push(message);
  }
  return out;
}

/**
 * The client dashboard: a server-rendered admin UI over the shared client
 * service. It signs administrators in through Gatehouse's own login as an
 * OIDC client; there is no delete here, as Lux's document says.
 */
export function dashboardRouter(deps: DashboardDeps): Router {
  const { clients, scopes, accounts, oidc, cookies, grants, views, logger } = deps;
  const router = new Router({ prefix: DASHBOARD_PATH });
  const form = bodyParser({ enableTypes: ['form'], formLimit: '32kb' });
  // Missing clients and other expected errors as pages, not JSON.
  router.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      if (!(error instanceof AppError) || !error.expose) throw error;
      render(ctx, 'dashboard/message', { title: ({ 403: 'Not allowed', 404: 'Not found' } as Record<number, string>)[error.status] ?? 'Something went wrong', message: error.message, action: DASHBOARD_PATH, actionLabel: 'Back to clients' }, error.status);
    }
  });


  function render(ctx: Context, name: string, locals: Record<string, unknown>, status = 200): void {
    const session = ctx.state.dashboard as DashboardSession | undefined;
    renderPage(ctx, views, name, {
      base: DASHBOARD_PATH,
      user: session?.name,
      csrf: session ? cookies.csrfToken(session) : undefined,
      // Gatehouse's own clients are shown read-only (no Edit link).
      isReserved: isReservedClient,
      ...locals,
    }, status);
  }

  /**
   * Only a live dashboard session gets past (its forms with their CSRF
   * token); others sign in. A session whose provider grant was revoked
   * (signed out of Gatehouse elsewhere) ends here.
   */
  const requireSession: Middleware = async (ctx, next) => {
    let session = await cookies.session(ctx);
    if (session?.grantId && !(await grants.alive(session.grantId))) {
      await cookies.endSession(ctx);
      session = undefined;
    }
    if (!session) {
      const returnTo = ctx.method === 'GET' ? ctx.originalUrl : DASHBOARD_PATH;
      seeOther(ctx, `${DASHBOARD_PATH}/login?returnTo=${encodeURIComponent(returnTo)}`);
      return;
    }
    ctx.state.dashboard = session;
    if (ctx.method === 'POST' && !cookies.csrfValid(session, (ctx.request.body as Form | undefined)?.csrf)) {
      render(ctx, 'dashboard/message', { title: 'Request refused', message: 'This form was not sent from the dashboard. Reload the page and try again.' }, 403);
      return;
    }
    await next();
  };

  /**
   * Only a signed-in administrator gets past. Anyone else is refused but keeps
   * the session, so the page can offer to sign out and use another account.
   */
  const requireAdmin: Middleware = (ctx, next) => requireSession(ctx, async () => {
    const session = ctx.state.dashboard as DashboardSession;
    const account = await accounts.findById(session.sub);
    if (!account?.roles.includes('admin')) {
      render(ctx, 'dashboard/refused', { who: session.name }, 403);
      return;
    }
    await next();
  });

  /**
   * A failed sign-in: its reason goes to a page of its own (through a
   * short-lived cookie, not the URL, which anyone could write), so the
   * address bar never keeps the callback's code.
   */
  function signInFailed(ctx: Context, reason: string): void {
    cookies.rememberFailure(ctx, reason.slice(0, 300));
    seeOther(ctx, `${DASHBOARD_PATH}/sign-in-failed`);
  }

  router.get('/login', async (ctx) => {
    const requested = typeof ctx.query.returnTo === 'string' ? ctx.query.returnTo : '';
    // Only ever return to a dashboard page (no open redirect).
    const returnTo = requested.startsWith(`${DASHBOARD_PATH}`) && !requested.startsWith('//') ? requested : DASHBOARD_PATH;
    const { url, verifier, state, nonce } = await oidc.start();
    cookies.startLogin(ctx, { verifier, state, nonce, returnTo });
    seeOther(ctx, url);
  });

  router.get('/callback', async (ctx) => {
    const pending = cookies.pendingLogin(ctx);
    cookies.endLogin(ctx);
    if (!pending) {
      signInFailed(ctx, 'This sign-in took longer than ten minutes or was started in another window.');
      return;
    }
    let who: { sub: string; name: string; idToken?: string; accessToken: string };
    try {
      who = await oidc.finish(new URL(`${deps.issuer}${ctx.path}?${ctx.querystring}`), pending);
    } catch (error) {
      logger.warn({ req_id: ctx.state.requestId, err: { message: (error as Error).message } }, 'dashboard sign-in failed');
      const reference = ctx.state.requestId ? ` (reference ${String(ctx.state.requestId)} in the server log)` : '';
      signInFailed(ctx, signInFailureReason(error) ?? `Gatehouse could not complete the sign-in${reference}.`);
      return;
    }
    // Admin or not, the session starts: requireAdmin refuses a non-admin on
    // every page, and the session lets them sign out (RP-initiated logout).
    const { accessToken, ...signedIn } = who;
    const grantId = await grants.grantOf(accessToken);
    if (!grantId) logger.warn({ req_id: ctx.state.requestId }, 'dashboard sign-in without a provider grant: the session will not end with Gatehouse’s');
    await cookies.startSession(ctx, { ...signedIn, grantId });
    seeOther(ctx, pending.returnTo);
  });

  router.get('/sign-in-failed', async (ctx) => {
    const reason = cookies.takeFailure(ctx);
    render(ctx, 'dashboard/sign-in-failed', {
      title: 'Sign-in failed',
      reason: reason ?? 'The sign-in could not be completed.',
      // Without the provider's metadata (the cause of some failures) the page still renders, without this link.
      signOut: await oidc.endSessionUrl().catch(() => undefined),
    }, reason ? 400 : 200);
  });

  // Ends the dashboard's session here and now, then the provider's sign-in
  // session through RP-initiated logout, so "Sign in again" asks for the
  // password (issue 15 L6). A plain form: no JavaScript needed.
  router.post('/logout', form, requireSession, async (ctx) => {
    const session = ctx.state.dashboard as DashboardSession;
    await cookies.endSession(ctx);
    ctx.state.dashboard = undefined;
    seeOther(ctx, await oidc.endSessionUrl(session.idToken));
  });

  // The provider's post-logout redirect. Also reached when the user chose to
  // stay signed in to Gatehouse: the dashboard's session is gone either way.
  // A GET ends nothing here (no cross-site logout through a link).
  router.get('/signed-out', (ctx) => {
    render(ctx, 'dashboard/message', { title: 'Signed out', message: 'You have signed out of the dashboard.', action: DASHBOARD_PATH, actionLabel: 'Sign in again' });
  });

  router.get('/', requireAdmin, async (ctx) => {
    const q = typeof ctx.query.q === 'string' ? ctx.query.q.trim().slice(0, 200) : '';
    // The one paging rule: a malformed page is a 400 page, an out-of-range one clamps.
    const { page } = readPaging({ page: ctx.query.page }, { defaultPerPage: PER_PAGE, maxPerPage: PER_PAGE });
    const { total, clients: items } = await clients.list({ name: q || undefined, page, perPage: PER_PAGE });
    const pages = Math.max(1, Math.ceil(total / PER_PAGE));
    render(ctx, 'dashboard/list', { q, page, pages, total, items });
  });

  async function formLocals(values: Partial<Client> & { redirectText?: string }, problems: FieldProblem[] = []) {
    return {
      registry: await scopes.list(),
      grants: DASHBOARD_GRANTS,
      values: { ...values, redirectText: values.redirectText ?? (values.redirectUris ?? []).join('\n') },
      errors: byField(problems),
    };
  }

  function readClientForm(body: Form) {
    return {
      name: text(body, 'name'),
      description: text(body, 'description'),
      redirectText: typeof body.redirect_uris === 'string' ? body.redirect_uris : '',
      scope: list(body.scope),
      grantTypes: list(body.grant_types),
    };
  }

  async function problemsOf(error: unknown): Promise<FieldProblem[]> {
    if (error instanceof ValidationError) return error.fields;
    if (error instanceof ConflictError) return [{ field: error.field, message: error.message }];
    throw error;
  }

  router.get('/clients/new', requireAdmin, async (ctx) => {
    render(ctx, 'dashboard/form', { mode: 'create', ...(await formLocals({ grantTypes: ['authorization_code'], scope: ['openid', 'profile'] })) });
  });

  router.post('/clients', form, requireAdmin, async (ctx) => {
    const input = readClientForm(ctx.request.body as Form);
    try {
      const { client, clientSecret } = await clients.create({
        name: input.name,
        description: input.description || undefined,
        redirectUris: lines(input.redirectText),
        scope: input.scope,
        grantTypes: input.grantTypes,
      }, { actor: `user:${(ctx.state.dashboard as DashboardSession).sub}`, ip: ctx.ip });
      // The secret is shown on this page only; it is never displayed again.
      ctx.set('Cache-Control', 'no-store');
      render(ctx, 'dashboard/created', { client, secret: clientSecret });
    } catch (error) {
      render(ctx, 'dashboard/form', { mode: 'create', ...(await formLocals(input, await problemsOf(error))) }, 422);
    }
  });

  router.get('/clients/:id', requireAdmin, async (ctx) => {
    const client = await clients.show(ctx.params.id!);
    render(ctx, 'dashboard/show', { client, saved: ctx.query.saved === '1' });
  });

  router.get('/clients/:id/edit', requireAdmin, async (ctx) => {
    assertClientChangeable(ctx.params.id!);
    const client = await clients.show(ctx.params.id!);
    render(ctx, 'dashboard/form', { mode: 'edit', client, ...(await formLocals(client)) });
  });

  router.post('/clients/:id', form, requireAdmin, async (ctx) => {
    assertClientChangeable(ctx.params.id!);
    const current = await clients.show(ctx.params.id!);
    const input = readClientForm(ctx.request.body as Form);
    try {
      await clients.update(current.clientId, {
        name: input.name,
        description: input.description || null,
        redirectUris: lines(input.redirectText),
        scope: input.scope,
      }, { actor: `user:${(ctx.state.dashboard as DashboardSession).sub}`, ip: ctx.ip });
      seeOther(ctx, `${DASHBOARD_PATH}/clients/${encodeURIComponent(current.clientId)}?saved=1`);
    } catch (error) {
      render(ctx, 'dashboard/form', { mode: 'edit', client: current, ...(await formLocals({ ...current, ...input }, await problemsOf(error))) }, 422);
    }
  });

  return router;
}
