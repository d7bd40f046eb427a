import Router from '@koa/router';
import type { Context } from 'koa';
import type { AccountService } from '../../accounts/service.js';
import type { Client, ClientService } from '../../clients/service.js';
import { AppError, type FieldProblem, ValidationError } from '../../errors/app-error.js';
import { bodySchema, type Fields, readValidated, text, textList } from '../../http/body.js';
import type { KeyService } from '../../keys/service.js';
import type { TokenCheck } from '../../resource-check/token-check.js';
import type { ScopeRegistry } from '../../scopes/registry.js';
import { northstarDenied, northstarErrors } from './errors.js';
import { NORTHSTAR_GRANTS } from './grants.js';
import { adminGate } from '../../http/admin-gate.js';
import { type Paging, PagingError, readPaging } from '../../paging/parameters.js';
import { type AuditLog, isAuditFilterInstant } from '../../audit/log.js';
import { useErrorMapping } from '../../http/route-dispatch.js';

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

/** A query parameter given at most once; a repeated one is a 400, as a repeated paging parameter is. */
function queryParameter(query: Context['query'], name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new AppError(400, 'invalid_request', `${name} must be given once`);
  return value;
}

// ISO 8601: a date, or a date and time with an optional zone, as Northstar
// writes its own timestamps (2016-07-07T15:46:21+0000). A `+` that was not
// percent-encoded arrives as a space, and is read as the `+` it was.
const ISO_8601 = /^(\d{4})-(\d\d)-(\d\d)(?:T\d\d:\d\d(?::\d\d(?:\.\d{1,9})?)?(Z|[+\- ]\d\d:?\d\d)?)?$/;

/** Whether year-month-day names a real day (Date rolls 2016-02-31 over into March). */
function realDay(year: string, month: string, day: string): boolean {
  // setUTCFullYear, as Date.UTC would read years 0-99 as 1900-1999.
  const date = new Date(0);
  date.setUTCFullYear(Number(year), Number(month) - 1, Number(day));
  return date.getUTCFullYear() === Number(year) && date.getUTCMonth() === Number(month) - 1 && date.getUTCDate() === Number(day);
}

/**
 * `since` on /v2/audit: an ISO 8601 date or date and time (UTC when it names
 * no zone). Anything else is a 400 naming the parameter, as a malformed
 * paging parameter is, never a silently unfiltered list.
 */
function sinceParameter(query: Context['query']): Date | undefined {
  const raw = queryParameter(query, 'since');
  // Blank, as an empty filter field sends it: no filter, as a blank client_id.
  if (!raw) return undefined;
  const match = ISO_8601.exec(raw);
  const zoneless = match !== null && raw.includes('T') && match[4] === undefined;
  const at = match && realDay(match[1]!, match[2]!, match[3]!) ? new Date(zoneless ? `${raw}Z` : raw.replace(/ (\d\d:?\d\d)$/, '+$1')) : undefined;
  if (!at || Number.isNaN(at.getTime())) {
    throw new AppError(400, 'invalid_request', 'since must be an ISO 8601 date or date and time (2016-07-07 or 2016-07-07T15:46:21+0000)');
  }
  // After its zone: 0001-01-01T00:00+05:00 is still in year 0.
  if (!isAuditFilterInstant(at)) {
    throw new AppError(400, 'invalid_request', 'since must fall in the years 0001 to 9999 (UTC)');
  }
  return at;
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
 * the shared client, scope and key services, and Gatehouse's `/v2/audit`.
 */
export function northstarRouter(deps: NorthstarDeps): Router {
  const { clients, scopes, keys, accounts, tokenCheck } = deps;
  const router = new Router({ prefix: '/v2' });
  useErrorMapping(router, northstarErrors);

  const requireAdmin = adminGate({
    surface: 'northstar',
    realm: 'northstar',
    schemeOptional: true,
    tokenCheck,
    audit: deps.audit,
    rolesOf: async (id) => (await accounts.findById(id))?.roles,
    refuse: northstarDenied,
    errors: northstarErrors,
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
    const since = sinceParameter(ctx.query);
    const clientId = queryParameter(ctx.query, 'client_id') || undefined;
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
    // Northstar's document takes no secret: the server generates it.
    if (fields.client_secret !== undefined) problems.push({ field: 'client_secret', message: 'The client_secret is generated by the server and cannot be given.' });
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
