import type Router from '@koa/router';
import type { Context } from 'koa';
import { type KeyService, type KeySummary, SIGNING_ALGS } from '../../keys/service.js';
import { ADMIN_PATH } from '../../web/paths.js';
import { actorOf, fieldErrors, type Form, formText, readForm, seeOther, type SignedInPages } from '../../web/signed-in-pages.js';
import { relativeTime, sectionRenderer, utcMinute } from './section.js';

const KEYS = `${ADMIN_PATH}/keys`;

export interface KeyPagesDeps {
  keys: KeyService;
  pages: SignedInPages;
}

/** What each state means, as the page explains it. */
const STATE_HELP: Record<KeySummary['state'], string> = {
  pending: 'Published in JWKS; signs once its activation delay is over, so that relying parties have seen it first.',
  signing: 'Signs new tokens of its algorithm.',
  retiring: 'Replaced; still published because tokens it signed may still be valid.',
  retirable: 'Replaced long enough ago that no token it signed is still valid: it can be retired.',
  retired: 'No longer published: tokens it signed no longer verify.',
};

function keyPath(key: Pick<KeySummary, 'kid'>, rest = ''): string {
  return `${KEYS}/${encodeURIComponent(key.kid)}${rest}`;
}

/**
 * The console's Keys section: the signing keys of each algorithm with their
 * state, rotation (KeyService.rotate, as `keys rotate`) and retirement once
 * it is safe (KeyService.retire, as `keys retire` without --force: the
 * console never forces it).
 */
export function mountKeyPages(router: Router, deps: KeyPagesDeps): void {
  const { keys, pages } = deps;
  const requireAdmin = pages.requireAdmin(ADMIN_PATH);
  const render = sectionRenderer(pages, 'keys', { keysHome: KEYS, keyPath, stateHelp: STATE_HELP, utcMinute, relativeTime, algs: SIGNING_ALGS });

  async function listPage(ctx: Context, locals: Record<string, unknown> = {}, status = 200): Promise<void> {
    const now = Date.now();
    const all = await keys.list(now);
    const rotated = typeof ctx.query.rotated === 'string' ? all.find((key) => key.kid === ctx.query.rotated) : undefined;
    const retired = typeof ctx.query.retired === 'string' ? all.find((key) => key.kid === ctx.query.retired && key.retired) : undefined;
    render(ctx, 'console/keys/list', {
      title: 'Keys', now, byAlg: SIGNING_ALGS.map((alg) => ({ alg, keys: all.filter((key) => key.alg === alg) })), rotated, retired, values: { alg: 'RS256' }, ...locals,
    }, status);
  }

  async function findKey(kid: string): Promise<KeySummary | undefined> {
    return (await keys.list()).find((key) => key.kid === kid);
  }

  router.get(KEYS, requireAdmin, (ctx) => listPage(ctx));

  router.post(`${KEYS}/rotate`, readForm, requireAdmin, async (ctx) => {
    const alg = formText(ctx.request.body as Form, 'alg');
    try {
      const key = await keys.rotate(alg, actorOf(ctx));
      seeOther(ctx, `${KEYS}?rotated=${encodeURIComponent(key.kid)}`);
    } catch (error) {
      await listPage(ctx, { errors: fieldErrors(error), values: { alg } }, 422);
    }
  });

  router.get(`${KEYS}/:kid/retire`, requireAdmin, async (ctx) => {
    const key = await findKey(ctx.params.kid!);
    if (!key || key.retired) {
      seeOther(ctx, KEYS);
      return;
    }
    render(ctx, 'console/keys/retire', { title: `Retire key ${key.kid.slice(0, 12)}…`, key, now: Date.now() });
  });

  router.post(`${KEYS}/:kid/retire`, readForm, requireAdmin, async (ctx) => {
    try {
      const key = await keys.retire(ctx.params.kid!, {}, actorOf(ctx));
      seeOther(ctx, `${KEYS}?retired=${encodeURIComponent(key.kid)}`);
    } catch (error) {
      const errors = fieldErrors(error);
      const key = await findKey(ctx.params.kid!);
      if (!key) throw error;
      render(ctx, 'console/keys/retire', { title: `Retire key ${key.kid.slice(0, 12)}…`, key, now: Date.now(), errors }, 422);
    }
  });
}
