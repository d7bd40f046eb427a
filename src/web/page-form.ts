import type { Middleware } from 'koa';
import { readFormFields, refuseEncodedBody } from '../http/raw-body.js';

/**
 * Reads the form a page posts into `ctx.request.body`, the way every other
 * body Gatehouse reads is read (http/raw-body.ts): in the charset its
 * Content-Type declares (UTF-8, ISO-8859-1 or US-ASCII; UTF-8 when it names
 * none; another is a 415, never guessed), never compressed (415), at most
 * `limit` bytes (413). Field names stay flat and repeated fields become
 * lists, as for the provider and the dialects, so one request means the same
 * on every surface. Anything but a form leaves an empty one: the pages'
 * checks (CSRF first) then refuse it.
 */
export function pageFormReader(limit: number): Middleware {
  return async (ctx, next) => {
    refuseEncodedBody(ctx.req.headers);
    ctx.request.body = {};
    if (ctx.is('application/x-www-form-urlencoded')) ctx.request.body = await readFormFields(ctx, limit);
    await next();
  };
}

declare module 'koa' {
  interface Request {
    /** The posted form, once pageFormReader has read it. */
    body?: unknown;
  }
}
