import Router from '@koa/router';
import type { Context } from 'koa';
import type { AccountService } from '../../accounts/service.js';
import type { Client, ClientService } from '../../clients/service.js';
import { type FieldProblem, ValidationError } from '../../errors/app-error.js';
import { bodySchema, type Fields, readValidated, text, textList } from '../../http/body.js';
import type { KeyService } from '../../keys/service.js';
import type { TokenCheck } from '../../resource-check/token-check.js';
import type { ScopeRegistry } from '../../scopes/registry.js';
import { northstarDenied, northstarErrors } from './errors.js';
import { NORTHSTAR_GRANTS } from './grants.js';
import { adminGate } from '../../http/admin-gate.js';
import { type Paging, PagingError, readPaging } from '../../paging/parameters.js';
import type { AuditLog } from '../../audit/log.js';

export interface NorthstarDeps {
  issuer: string;
  /** The kid this process signs with now (rotated keys apply once their activation delay is over). */
  signingKid: () => string | undefined;
  clients: ClientService;
  scopes: ScopeRegistry;
  keys: KeyService;
  accounts: AccountService;
  tokenCheck: TokenCheck;
  audit: AuditLog;
}

const PER_PAGE = 20;
const MAX_PER_PAGE = 100;

/** Northstar's timestamps: 2016-07-07T15:46:21+0000 */
function timestamp(iso: string): string {
  return iso.replace(/\.\d{3}Z$/, '+0000');
}

/**
 * Northstar's paging parameters: `page`, and `limit` or its alias `per_page`
 * (the name of the field in Northstar's pagination meta), read by the one
 * paging rule (a malformed value is a 400, an out-of-range number clamps).
 */
function northstarPaging(query: Context['query']): Paging {
  if (query.limit !== undefined && query.per_page !== undefined) throw new PagingError('limit', 'give limit or per_page, not both');
  const perPage = query.per_page !== undefined ? 'per_page' : 'limit';
  return readPaging({ page: query.page, perPage: query[perPage] }, { defaultPerPage: PER_PAGE, maxPerPage: MAX_PER_PAGE }, { page: 'page', perPage });
}

const CLIENT_DOCUMENT = bodySchema({
  title: text(200, true), description: text(2000, true), client_id: text(256, true), client_secret: text(512, true),
  scope: textList(64, 64, true), redirect_uri: text(2048, true), redirect_uris: textList(20, 2048, true),
});

function optionalString(fields: Fields, name: string, problems: FieldProblem[]): string | undefined {
  const value = fields[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') problems.push({ field: name, message: `The ${name} must be a string.` });
  return typeof value === 'string' ? value : undefined;
}

function optionalStringArray(fields: Fields, name: string, problems: FieldProblem[]): string[] | undefined {
  const value = fields[name];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
    problems.push({ field: name, message: `The ${name} must be an array of strings.` });
    return undefined;
  }
  return value as string[];
}

/**
 * Northstar's client admin API (`/v2/clients`, `/v2/scopes`, `/v2/key`) over
 * the shared client, scope and key services.
 */
export function northstarRouter(deps: NorthstarDeps): Router {
  const { clients, scopes, keys, accounts, tokenCheck } = deps;
  const router = new Router({ prefix: '/v2' });
  router.use(northstarErrors);

  const requireAdmin = adminGate({
    surface: 'northstar',
    realm: 'northstar',
    schemeOptional: true,
    tokenCheck,
    audit: deps.audit,
    rolesOf: async (id) => (await accounts.findById(id))?.roles,
    refuse: northstarDenied,
  });

  async function present(client: Client) {
    return {
      title: client.name,
      description: client.description,
      client_id: client.clientId,
      // Northstar's documents show the secret to administrators on every read.
      client_secret: (await clients.secretOf(client.clientId)) ?? null,
      scope: client.scope,
      refresh_tokens: await clients.refreshTokenCount(client.clientId),
      updated_at: timestamp(client.updatedAt),
      created_at: timestamp(client.createdAt),
    };
  }

  function noStore(ctx: Context) {
    ctx.set('Cache-Control', 'no-store');
  }

  router.get('/scopes', async (ctx) => {
    const registry = await scopes.list();
    ctx.body = Object.fromEntries(registry.map((scope) => [
      scope.name, { description: scope.description, ...(scope.warning ? { warning: true } : {}) },
    ]));
  });

  router.get('/key', requireAdmin, async (ctx) => {
    const key = await keys.publicKeyPem(deps.signingKid());
    noStore(ctx);
    ctx.body = { algorithm: key.alg, issuer: deps.issuer, public_key: key.pem };
  });

  router.get('/audit', requireAdmin, async (ctx) => {
    const { page, perPage } = northstarPaging(ctx.query);
    const since = typeof ctx.query.since === 'string' && !Number.isNaN(Date.parse(ctx.query.since)) ? new Date(ctx.query.since) : undefined;
    const clientId = typeof ctx.query.client_id === 'string' && ctx.query.client_id ? ctx.query.client_id : undefined;
    const { total, items } = await deps.audit.list({ since, clientId, page, perPage });
    noStore(ctx);
    ctx.body = {
      data: items.map((item) => ({
        id: item.id, at: timestamp(item.at.toISOString()), event: item.event, actor: item.actor, client_id: item.clientId, ip: item.ip, detail: item.detail,
      })),
      meta: { pagination: { total, count: items.length, per_page: perPage, current_page: page, total_pages: Math.max(1, Math.ceil(total / perPage)) } },
    };
  });

  router.get('/clients', requireAdmin, async (ctx) => {
    const { page, perPage } = northstarPaging(ctx.query);
    const { total, clients: items } = await clients.list({ page, perPage });
    const totalPages = Math.max(1, Math.ceil(total / perPage));
    const link = (to: number) => `${deps.issuer}/v2/clients?page=${to}&limit=${perPage}`;
    const links = {
      ...(page > 1 ? { previous: link(Math.min(page - 1, totalPages)) } : {}),
      ...(page < totalPages ? { next: link(page + 1) } : {}),
    };
    noStore(ctx);
    ctx.body = {
      data: await Promise.all(items.map(present)),
      meta: {
        pagination: {
          total,
          count: items.length,
          per_page: perPage,
          current_page: page,
          total_pages: totalPages,
          links: Object.keys(links).length ? links : [],
        },
      },
    };
  });

  router.post('/clients', requireAdmin, async (ctx) => {
    const fields = await readValidated(ctx, CLIENT_DOCUMENT, 'fields');
    const problems: FieldProblem[] = [];
    const title = optionalString(fields, 'title', problems);
    if (!title?.trim() && !problems.length) problems.push({ field: 'title', message: 'The title field is required.' });
    const description = optionalString(fields, 'description', problems);
    const clientId = optionalString(fields, 'client_id', problems);
    const scope = optionalStringArray(fields, 'scope', problems);
    if (!scope) problems.push({ field: 'scope', message: 'The scope field is required.' });
    const redirect = optionalString(fields, 'redirect_uri', problems);
    const redirectUris = optionalStringArray(fields, 'redirect_uris', problems) ?? (redirect ? [redirect] : []);
    if (problems.length) throw new ValidationError(problems);
    const { client } = await clients.create({
      name: title!,
      description,
      clientId: clientId || undefined,
      scope: scope!,
      grantTypes: redirectUris.length ? [...NORTHSTAR_GRANTS, 'authorization_code'] : NORTHSTAR_GRANTS,
      redirectUris,
      tokenFormat: 'jwt',
    }, ctx.state.actor);
    noStore(ctx);
    ctx.body = { data: await present(client) };
  });

  router.get('/clients/:client_id', requireAdmin, async (ctx) => {
    noStore(ctx);
    ctx.body = { data: await present(await clients.show(ctx.params.client_id!)) };
  });

  router.put('/clients/:client_id', requireAdmin, async (ctx) => {
    const fields = await readValidated(ctx, CLIENT_DOCUMENT, 'fields');
    const problems: FieldProblem[] = [];
    const title = optionalString(fields, 'title', problems);
    const description = optionalString(fields, 'description', problems);
    const scope = optionalStringArray(fields, 'scope', problems);
    // Gatehouse's extension, as on POST: redirect URIs for the code flow.
    const redirect = optionalString(fields, 'redirect_uri', problems);
    const redirectUris = optionalStringArray(fields, 'redirect_uris', problems) ?? (redirect ? [redirect] : undefined);
    if (fields.client_id !== undefined && fields.client_id !== ctx.params.client_id) {
      problems.push({ field: 'client_id', message: 'The client_id cannot be changed.' });
    }
    if (fields.client_secret !== undefined) problems.push({ field: 'client_secret', message: 'The client_secret cannot be changed.' });
    if (problems.length) throw new ValidationError(problems);
    const client = await clients.update(ctx.params.client_id!, { name: title, description, scope, redirectUris }, ctx.state.actor);
    noStore(ctx);
    ctx.body = { data: await present(client) };
  });

  router.delete('/clients/:client_id', requireAdmin, async (ctx) => {
    await clients.delete(ctx.params.client_id!, ctx.state.actor);
    ctx.body = { success: { code: 200, message: 'Deleted client.' } };
  });

  return router;
}
