import type { Context } from 'koa';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pug from 'pug';

export const VIEWS_DIR = fileURLToPath(new URL('../../../views/', import.meta.url));

export type Views = (name: string, locals?: Record<string, unknown>) => string;

/**
 * Server-rendered pages. Templates compile once and are cached; `#{}` in pug
 * escapes HTML, and templates use nothing else for data from requests.
 */
export function createViews(dir = VIEWS_DIR): Views {
  const compiled = new Map<string, pug.compileTemplate>();
  return (name, locals = {}) => {
    let template = compiled.get(name);
    if (!template) {
      template = pug.compileFile(join(dir, `${name}.pug`), { cache: true });
      compiled.set(name, template);
    }
    return template(locals);
  };
}

/** Headers for every HTML page Gatehouse renders itself (no scripts, no framing). */
export const PAGE_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
  'X-Frame-Options': 'DENY',
  'Cache-Control': 'no-store',
};

/**
 * Answers with one of the pug pages and PAGE_HEADERS. Without `status` the
 * response keeps the one already set (oidc-provider sets it for its pages).
 */
export function renderPage(ctx: Context, views: Views, name: string, locals: Record<string, unknown>, status?: number): void {
  ctx.set(PAGE_HEADERS);
  if (status !== undefined) ctx.status = status;
  ctx.type = 'html';
  ctx.body = views(name, locals);
}
