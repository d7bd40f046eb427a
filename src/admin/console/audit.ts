import { Readable } from 'node:stream';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { type AuditFilter, type AuditLog, type AuditRecord, isAuditFilterInstant } from '../../audit/log.js';
import { NotFoundError } from '../../errors/app-error.js';
import { readPaging } from '../../paging/parameters.js';
import { ADMIN_PATH } from '../../web/paths.js';
import { actorOf, type SignedInPages } from '../../web/signed-in-pages.js';

const AUDIT = `${ADMIN_PATH}/audit`;
const PER_PAGE = 50;

export interface AuditPagesDeps {
  audit: AuditLog;
  pages: SignedInPages;
}

/** The filter form's fields as typed, for the form and for the links that keep them. */
interface FilterForm {
  actor: string;
  client: string;
  action: string;
  from: string;
  to: string;
}

// What a datetime-local field sends (seconds optional); read as UTC, as the page says.
const DATETIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?$/;

function queryText(ctx: Context, name: string, max: number): string {
  const value = ctx.query[name];
  return typeof value === 'string' ? value.trim().slice(0, max) : '';
}

/** The filter the query asks for, or the problems of each field that is not a filter. */
function readFilter(ctx: Context): { form: FilterForm; filter?: AuditFilter; errors: Record<string, string[]> } {
  const form: FilterForm = {
    actor: queryText(ctx, 'actor', 200), client: queryText(ctx, 'client', 128), action: queryText(ctx, 'action', 64),
    from: queryText(ctx, 'from', 19), to: queryText(ctx, 'to', 19),
  };
  const errors: Record<string, string[]> = {};
  const time = (name: 'from' | 'to'): Date | undefined => {
    if (!form[name]) return undefined;
    const at = DATETIME.test(form[name]) ? new Date(`${form[name]}Z`) : undefined;
    if (!at || Number.isNaN(at.getTime())) {
      errors[name] = ['is not a date and time (YYYY-MM-DDTHH:MM, in UTC)'];
      return undefined;
    }
    if (!isAuditFilterInstant(at)) {
      errors[name] = ['must fall in the years 0001 to 9999 (UTC)'];
      return undefined;
    }
    return at;
  };
  const since = time('from');
  const until = time('to');
  if (since && until && until <= since) errors.to = ['must be after “From”'];
  if (Object.keys(errors).length) return { form, errors };
  return {
    form,
    errors,
    filter: {
      ...(form.actor ? { actor: form.actor } : {}), ...(form.client ? { clientId: form.client } : {}), ...(form.action ? { event: form.action } : {}),
      ...(since ? { since } : {}), ...(until ? { until } : {}),
    },
  };
}

/** The query string that keeps a filter (for paging and export links). */
function filterQuery(form: FilterForm): string {
  return new URLSearchParams(Object.entries(form).filter(([, value]) => value)).toString();
}

/** The account an actor names, when it names one (`user:<id>`). */
function actorAccount(actor: string | null): string | undefined {
  return actor?.startsWith('user:') ? actor.slice('user:'.length) : undefined;
}

/** One event as a JSON line of the export: the trail's own field names, the time in ISO 8601. */
function jsonLine(record: AuditRecord): string {
  return `${JSON.stringify({ id: record.id, at: record.at.toISOString(), event: record.event, actor: record.actor, client_id: record.clientId, ip: record.ip, detail: record.detail })}\n`;
}

/**
 * The console's Audit section: the trail, filtered by actor, client, action
 * and time range, paged in the database, each event in detail, and the same
 * search exported as JSON lines.
 */
export function mountAuditPages(router: Router, deps: AuditPagesDeps): void {
  const { audit, pages } = deps;
  const requireAdmin = pages.requireAdmin(ADMIN_PATH);
  const render = (ctx: Context, name: string, locals: Record<string, unknown>, status = 200) => pages.render(ctx, ADMIN_PATH, name, {
    section: 'audit', auditHome: AUDIT, actorAccount, ...locals,
  }, status);

  router.get(AUDIT, requireAdmin, async (ctx) => {
    const { form, filter, errors } = readFilter(ctx);
    const { page } = readPaging({ page: ctx.query.page }, { defaultPerPage: PER_PAGE, maxPerPage: PER_PAGE });
    const query = filterQuery(form);
    if (!filter) {
      render(ctx, 'console/audit/list', { title: 'Audit', form, errors, query, items: [], total: 0, page: 1, pages: 1 }, 400);
      return;
    }
    const { total, items } = await audit.search({ ...filter, page, perPage: PER_PAGE });
    render(ctx, 'console/audit/list', { title: 'Audit', form, errors, query, items, total, page, pages: Math.max(1, Math.ceil(total / PER_PAGE)) });
  });

  router.get(`${AUDIT}/export`, requireAdmin, async (ctx) => {
    const { form, filter, errors } = readFilter(ctx);
    if (!filter) {
      render(ctx, 'console/audit/list', { title: 'Audit', form, errors, query: filterQuery(form), items: [], total: 0, page: 1, pages: 1 }, 400);
      return;
    }
    // Up to now: events recorded while the export runs would shift its pages.
    const bounded = { ...filter, until: filter.until ?? new Date() };
    await audit.record({ event: 'audit.exported', ...actorOf(ctx), detail: { filter: { ...form } } });
    ctx.set('Content-Disposition', 'attachment; filename="gatehouse-audit.jsonl"');
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'application/jsonl; charset=utf-8';
    ctx.body = Readable.from((async function* lines() {
      for await (const record of audit.searchAll(bounded)) yield jsonLine(record);
    })());
  });

  router.get(`${AUDIT}/:id`, requireAdmin, async (ctx) => {
    const record = await audit.find(ctx.params.id!);
    if (!record) throw new NotFoundError(`no audit event ${ctx.params.id!}`);
    render(ctx, 'console/audit/show', { title: `Audit event ${record.id}`, record, detailJson: JSON.stringify(record.detail, null, 2) });
  });
}
