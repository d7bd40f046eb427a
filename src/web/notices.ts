import type { Context } from 'koa';

/**
 * A notice chosen by a fixed key of the query (`?done=…`), so that a URL
 * cannot put words on the page. Only the table's own keys count: a plain
 * lookup would also find what every object inherits (`?done=constructor`
 * printed Object's source, `?done=__proto__` "[object Object]").
 */
export function noticeOf(ctx: Context, notices: Readonly<Record<string, string>>): string | undefined {
  const key = ctx.query.done;
  return typeof key === 'string' && Object.hasOwn(notices, key) ? notices[key] : undefined;
}
