import type { Context } from 'koa';
import { ADMIN_PATH } from '../../web/paths.js';
import type { SignedInPages } from '../../web/signed-in-pages.js';

export type RenderSection = (ctx: Context, name: string, locals: Record<string, unknown>, status?: number) => void;

/** Renders a console page of one section: the nav marks it, and every page has an (empty) error map for its forms. */
export function sectionRenderer(pages: SignedInPages, section: string, shared: Record<string, unknown> = {}): RenderSection {
  return (ctx, name, locals, status = 200) => pages.render(ctx, ADMIN_PATH, name, { section, errors: {}, ...shared, ...locals }, status);
}

/** A time as the console shows it: to the minute, in UTC. */
export function utcMinute(at: Date | string): string {
  return `${new Date(at).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** How long ago (or, for a time to come, in how long): the largest whole unit. */
export function relativeTime(at: Date | string, now = Date.now()): string {
  const seconds = Math.round((new Date(at).getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  const [value, unit] = abs < 60 ? [abs, 'second'] : abs < 3600 ? [Math.floor(abs / 60), 'minute']
    : abs < 86_400 ? [Math.floor(abs / 3600), 'hour'] : [Math.floor(abs / 86_400), 'day'];
  const span = `${value} ${unit}${value === 1 ? '' : 's'}`;
  return seconds <= 0 ? `${span} ago` : `in ${span}`;
}
