import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { AccountService } from '../../accounts/service.js';
import type { Client, ClientService } from '../../clients/service.js';
import { AppError, ValidationError } from '../../errors/app-error.js';
import { bodySchema, type Fields, readValidated, stringField, text, validateFields } from '../../http/body.js';
import { callProviderEndpoint } from '../../http/provider-endpoint.js';
import { renderPage, type Views } from '../../http/views.js';
import { handOffAuthorization } from '../shared/authorize-handoff.js';
import type { TokenCheck } from '../../resource-check/token-check.js';
import { luxErrors } from './errors.js';
import { adminGate } from '../../http/admin-gate.js';
import type { AuditLog } from '../../audit/log.js';
import { useErrorMapping } from '../../http/route-dispatch.js';

export interface LuxDeps {
  provider: Provider;
  clients: ClientService;
  accounts: AccountService;
  tokenCheck: TokenCheck;
  views: Views;
  audit: AuditLog;
}

const TOKEN_REQUEST = bodySchema({
  grant_type: text(64), client_id: text(256), client_secret: text(512), code: text(512), redirect_uri: text(2048),
  // RFC 7636 §4.5: 43-128 characters; longer is refused here, shorter by the provider.
  code_verifier: text(128),
});
const ADJUST_REQUEST = bodySchema({
  client_id: text(256), client_name: text(200), redirect_uri: text(2048), description: text(2000), scope: text(1024),
});
const QUERY_REQUEST = bodySchema({ client_name: text(200) });

/** Scopes a client made through adjust/ gets: sign-in and the user API. */
const LUX_DEFAULT_SCOPE = ['openid', 'profile', 'user'];

/**
 * Lux (`/Lux/OAuth2/…`): authorize/ and access_token/ are the provider's code
 * flow (PKCE optional for confidential clients, as Lux clients predate it);
 * adjust/ and query/ manage clients through the shared client service.
 */
export function luxRouter(deps: LuxDeps): Router {
  const { provider, clients, accounts, tokenCheck, views } = deps;
  const router = new Router({ prefix: '/Lux/OAuth2' });
  useErrorMapping(router, luxErrors.thrown);

  // Lux's rule ("5, oauth") is Gatehouse's one admin rule: the admin scope,
  // or role:admin on an admin user's token (resource-check/admin-access.ts).
  const requireAdmin = adminGate({
    surface: 'lux',
    realm: 'lux',
    tokenCheck,
    audit: deps.audit,
    rolesOf: async (id) => (await accounts.findById(id))?.roles,
    refuse: luxErrors.denied,
    errors: luxErrors.thrown,
  });

  /** The Lux client document: the same record every admin surface sees. */
  async function doc(client: Client) {
    return {
      client_id: client.clientId,
      client_secret: (await clients.secretOf(client.clientId)) ?? null,
      client_name: client.name,
      redirect_uri: client.redirectUris[0] ?? null,
      redirect_uris: client.redirectUris,
      description: client.description,
      scope: client.scope.join(' '),
      created_at: client.createdAt,
      updated_at: client.updatedAt,
    };
  }

  function errorPage(ctx: Context, title: string, description: string) {
    renderPage(ctx, views, 'error', { error: title, description }, 400);
  }

  // Each path answers with and without the trailing slash Lux's document writes.
  router.get('/authorize', async (ctx, next) => {
    const responseType = ctx.query.response_type;
    if (responseType !== 'code') {
      // Never redirect on a bad request here: the redirect_uri is not yet trusted.
      errorPage(ctx, 'Unsupported response type', 'This sign-in link asks for something other than response_type=code.');
      return;
    }
    // Lux requests carry no scope: they get what the client is registered for.
    await handOffAuthorization(ctx, next, provider, 'lux');
  });

  router.post('/access_token', async (ctx, next) => {
    const fields = await readValidated(ctx, TOKEN_REQUEST, 'invalid_request');
    const grantType = stringField(fields, 'grant_type');
    if (grantType !== 'authorization_code') {
      throw new AppError(400, grantType ? 'unsupported_grant_type' : 'invalid_request', 'grant_type must be authorization_code');
    }
    const clientId = stringField(fields, 'client_id');
    const clientSecret = stringField(fields, 'client_secret');
    if (!clientId) throw new AppError(401, 'invalid_client', 'client_id is required');
    const answer = await callProviderEndpoint(ctx, next, provider, {
      dialect: 'lux',
      route: 'token',
      form: {
        grant_type: 'authorization_code',
        code: stringField(fields, 'code'),
        redirect_uri: stringField(fields, 'redirect_uri'),
        // A Lux client that used PKCE at authorize/ proves it here (RFC 7636 §4.5);
        // the provider checks it against the code's challenge.
        code_verifier: stringField(fields, 'code_verifier'),
        // A public client (RFC 6749 §2.1) has no secret: it names itself, and
        // the provider holds it to PKCE; a confidential one without its secret
        // is refused by the provider's client authentication.
        ...(clientSecret ? {} : { client_id: clientId }),
      },
      ...(clientSecret ? { credentials: { clientId, clientSecret } } : {}),
    });
    if (answer.status !== 200) {
      luxErrors.refused(ctx, answer);
      return;
    }
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { access_token: answer.body.access_token, token_type: answer.body.token_type, expires_in: answer.body.expires_in };
  });

  router.post('/adjust', requireAdmin, async (ctx) => {
    const fields: Fields = await readValidated(ctx, ADJUST_REQUEST, 'invalid_request');
    if (fields.client_secret !== undefined) {
      throw new ValidationError([{ field: 'client_secret', message: 'is generated by the server and can never be changed' }]);
    }
    const clientId = stringField(fields, 'client_id');
    const name = stringField(fields, 'client_name');
    const redirectUri = stringField(fields, 'redirect_uri');
    const description = stringField(fields, 'description');
    const scope = stringField(fields, 'scope')?.split(' ').filter(Boolean);
    if (clientId) {
      const updated = await clients.update(clientId, {
        name, description, scope, redirectUris: redirectUri ? [redirectUri] : undefined,
      }, ctx.state.actor);
      ctx.body = { doc: await doc(updated) };
      return;
    }
    const problems = [];
    if (!name) problems.push({ field: 'client_name', message: 'is required' });
    if (!redirectUri) problems.push({ field: 'redirect_uri', message: 'is required' });
    if (problems.length) throw new ValidationError(problems);
    const { client } = await clients.create({
      name: name!, description, redirectUris: [redirectUri!], scope: scope ?? LUX_DEFAULT_SCOPE, grantTypes: ['authorization_code'],
    }, ctx.state.actor);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { doc: await doc(client) };
  });

  const query: Middleware = async (ctx) => {
    const fields = ctx.method === 'POST'
      ? await readValidated(ctx, QUERY_REQUEST, 'invalid_request')
      : validateFields({ ...ctx.query }, QUERY_REQUEST, 'invalid_request');
    // The seed's client_name names one client: an exact match, not a search
    // (a search could hand a tool reading doc[0] another client's secret).
    // Blank: all clients, however many.
    const name = stringField(fields, 'client_name')?.trim();
    const found = await clients.listAll(name ? { nameIs: name } : {});
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { doc: await Promise.all(found.map(doc)) };
  };
  router.get('/query', requireAdmin, query);
  router.post('/query', requireAdmin, query);

  return router;
}
