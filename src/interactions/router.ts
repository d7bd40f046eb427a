import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { AppError } from '../errors/app-error.js';
import type Provider from 'oidc-provider';
import type { AccountService } from '../accounts/service.js';
import { renderPage, type Views } from '../http/views.js';
import type { ScopeRegistry } from '../scopes/registry.js';
import { type ClientIdentity, clientIdentity } from '../clients/client-identity.js';
import { csrfToken, csrfTokenValid } from './csrf.js';
import { pageFormReader } from '../web/page-form.js';
import { type AuditLog, typedUsernameActor } from '../audit/log.js';
import { type FailureLimiter, TooManyFailures } from '../security/failure-limiter.js';
import { absentIfRefusedMetadata } from '../errors/provider-error.js';

export interface InteractionDeps {
  provider: Provider;
  accounts: AccountService;
  scopes: ScopeRegistry;
  views: Views;
  csrfSecret: string;
  audit: AuditLog;
  limiter: FailureLimiter;
  /** Counts a wrong username or password (the metrics' sign-in failures). */
  signInFailed?: () => void;
}

type Form = Record<string, unknown>;

function field(form: Form, name: string): string {
  const value = form[name];
  // A repeated field arrives as an array: treat it as absent rather than guess.
  return typeof value === 'string' ? value : '';
}

/**
 * The login and consent pages oidc-provider sends the browser to. They work
 * without JavaScript: plain forms, posted back here, answered with a 303 to
 * the provider's resume endpoint.
 */
export function interactionsRouter(deps: InteractionDeps): Router {
  const { provider, accounts, scopes, views, csrfSecret } = deps;
  const router = new Router({ prefix: '/interaction/:uid' });
  const readForm = pageFormReader(16 * 1024);
  // A form refused for its body (too large, compressed, an unknown charset) is a page, as every other refusal here.
  const form: Middleware = async (ctx, next) => {
    try {
      await readForm(ctx, async () => {});
    } catch (error) {
      if (!(error instanceof AppError) || !error.expose) throw error;
      renderPage(ctx, views, 'error', { error: 'Request refused', description: error.message }, error.status);
      return;
    }
    await next();
  };

  async function details(ctx: Context) {
    try {
      return await provider.interactionDetails(ctx.req, ctx.res);
    } catch {
      renderPage(ctx, views, 'error', {
        error: 'Sign-in expired',
        description: 'This sign-in page is no longer valid. Go back to the application and start again.',
      }, 400);
      return undefined;
    }
  }

  async function finish(ctx: Context, result: Parameters<Provider['interactionResult']>[2], merge: boolean) {
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
    ctx.redirect(returnTo);
    ctx.status = 303;
  }

  /** The client as the page shows it: its name with where it returns the user to (the redirect_uri of this request, which the provider has checked). */
  async function clientOf(params: Record<string, unknown>): Promise<ClientIdentity> {
    const clientId = params.client_id;
    const client = typeof clientId === 'string' ? await provider.Client.find(clientId) : undefined;
    return clientIdentity(client ? client.metadata() : { client_id: clientId }, params.redirect_uri);
  }

  function refuseForgery(ctx: Context, uid: string): boolean {
    if (csrfTokenValid(csrfSecret, uid, (ctx.request.body as Form | undefined)?.csrf)) return false;
    renderPage(ctx, views, 'error', {
      error: 'Request refused',
      description: 'This form was not sent from the sign-in page. Go back to the application and start again.',
    }, 403);
    return true;
  }

  router.get('/', async (ctx) => {
    const interaction = await details(ctx);
    if (!interaction) return;
    const { uid, prompt, params } = interaction;
    const client = await clientOf(params);
    const csrf = csrfToken(csrfSecret, uid);
    if (prompt.name === 'login') {
      renderPage(ctx, views, 'login', { uid, client, csrf, username: '' });
      return;
    }
    const registry = new Map((await scopes.list()).map((s) => [s.name, s]));
    const requested = new Set<string>([
      ...((prompt.details.missingOIDCScope as string[] | undefined) ?? []),
      ...Object.values((prompt.details.missingResourceScopes as Record<string, string[]> | undefined) ?? {}).flat(),
    ]);
    const scopeList = [...requested].map((name) => ({
      name,
      description: registry.get(name)?.description ?? name,
      // Restricted scopes (registry `warning`) are the ones only an
      // administrator may give a client: the page says so in words.
      warning: registry.get(name)?.warning ?? false,
    }));
    renderPage(ctx, views, 'consent', { uid, client, csrf, scopes: scopeList, restricted: scopeList.some((scope) => scope.warning) });
  });

  router.post('/login', form, async (ctx) => {
    const interaction = await details(ctx);
    if (!interaction || refuseForgery(ctx, interaction.uid)) return;
    const body = ctx.request.body as Form;
    const username = field(body, 'username').trim();
    const loginPage = async (error: string, status: number) => renderPage(ctx, views, 'login', {
      uid: interaction.uid,
      client: await clientOf(interaction.params),
      csrf: csrfToken(csrfSecret, interaction.uid),
      username,
      error,
    }, status);
    let account;
    try {
      account = await deps.limiter.attemptPassword(username, ctx.ip, () => accounts.authenticate(username, field(body, 'password')));
    } catch (error) {
      if (!(error instanceof TooManyFailures)) throw error;
      ctx.set('Retry-After', String(error.retryAfter));
      await loginPage(`Too many failed attempts. Wait ${error.retryAfter} seconds, then try again.`, 429);
      return;
    }
    await deps.audit.record({
      event: account ? 'login.succeeded' : 'login.failed',
      actor: account ? `user:${account.id}` : typedUsernameActor(username),
      clientId: typeof interaction.params.client_id === 'string' ? interaction.params.client_id : null,
      ip: ctx.ip,
    });
    if (!account) {
      deps.signInFailed?.();
      // Never say which of the two was wrong (no account enumeration).
      await loginPage('Wrong username or password.', 401);
      return;
    }
    await finish(ctx, { login: { accountId: account.id } }, false);
  });

  router.post('/confirm', form, async (ctx) => {
    const interaction = await details(ctx);
    if (!interaction || refuseForgery(ctx, interaction.uid)) return;
    const { prompt, params, session } = interaction;
    if (prompt.name !== 'consent' || !session?.accountId) {
      renderPage(ctx, views, 'error', { error: 'Nothing to confirm', description: 'Sign in first.' }, 400);
      return;
    }
    // A client deleted while its consent page was open gets no grant: the
    // provider would refuse the resumed request, but the grant would stay,
    // listed on the account page for a client that is gone.
    const client = await provider.Client.find(String(params.client_id)).catch(absentIfRefusedMetadata);
    const grant = !client ? undefined : interaction.grantId
      ? await provider.Grant.find(interaction.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: client.clientId });
    if (!grant) {
      renderPage(ctx, views, 'error', { error: 'Sign-in expired', description: 'Go back to the application and start again.' }, 400);
      return;
    }
    const missingScope = prompt.details.missingOIDCScope as string[] | undefined;
    const missingClaims = prompt.details.missingOIDCClaims as string[] | undefined;
    const missingResourceScopes = prompt.details.missingResourceScopes as Record<string, string[]> | undefined;
    if (missingScope) grant.addOIDCScope(missingScope.join(' '));
    if (missingClaims) grant.addOIDCClaims(missingClaims);
    for (const [resource, scope] of Object.entries(missingResourceScopes ?? {})) {
      grant.addResourceScope(resource, scope.join(' '));
    }
    const grantId = await grant.save();
    await finish(ctx, { consent: interaction.grantId ? {} : { grantId } }, true);
  });

  router.post('/abort', form, async (ctx) => {
    const interaction = await details(ctx);
    if (!interaction || refuseForgery(ctx, interaction.uid)) return;
    await finish(ctx, { error: 'access_denied', error_description: 'The user declined the request.' }, false);
  });

  return router;
}
