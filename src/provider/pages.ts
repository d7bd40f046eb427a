import type { KoaContextWithOIDC } from 'oidc-provider';
import { PAGE_HEADERS, type Views } from '../http/views.js';

/** Renders one of Gatehouse's pug pages as the answer to a provider route. */
export function renderPage(ctx: KoaContextWithOIDC, views: Views, name: string, locals: Record<string, unknown>): void {
  ctx.set(PAGE_HEADERS);
  ctx.type = 'html';
  ctx.body = views(name, locals);
}
