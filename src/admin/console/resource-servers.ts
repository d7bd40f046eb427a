import type Router from '@koa/router';
import type { Context } from 'koa';
import { SIGNING_ALGS } from '../../keys/service.js';
import type { NewResourceServer, ResourceServerRecord, ResourceServerRegistry } from '../../resource-servers/registry.js';
import type { ScopeRegistry } from '../../scopes/registry.js';
import { ADMIN_PATH } from '../../web/paths.js';
import { actorOf, fieldErrors, type Form, formText, readForm, seeOther, type SignedInPages } from '../../web/signed-in-pages.js';
import { noticeOf, sectionRenderer } from './section.js';

const SERVERS = `${ADMIN_PATH}/resource-servers`;

export interface ResourceServerPagesDeps {
  resourceServers: ResourceServerRegistry;
  scopes: ScopeRegistry;
  pages: SignedInPages;
}

/** The form's fields as typed (so a refused form comes back as it was sent). */
interface ServerForm { uri: string; scope: string; token_format: string; access_token_ttl: string; signing_alg: string }

function readServerForm(body: Form): ServerForm {
  return {
    uri: formText(body, 'uri'), scope: formText(body, 'scope'), token_format: formText(body, 'token_format'),
    access_token_ttl: formText(body, 'access_token_ttl'), signing_alg: formText(body, 'signing_alg'),
  };
}

/** The form as the registry's input; the registry judges every field. */
function serverInput(form: ServerForm): NewResourceServer {
  return {
    uri: form.uri, scope: form.scope.split(/[\s,]+/).filter(Boolean), tokenFormat: form.token_format as NewResourceServer['tokenFormat'],
    accessTokenTtl: form.access_token_ttl === '' ? undefined : Number(form.access_token_ttl), signingAlg: form.signing_alg || undefined,
  };
}

function formOf(record: ResourceServerRecord): ServerForm {
  return { uri: record.uri, scope: record.scope, token_format: record.tokenFormat, access_token_ttl: record.accessTokenTtl === null ? '' : String(record.accessTokenTtl), signing_alg: record.signingAlg };
}

const serverPath = (uri: string, action: 'edit' | 'remove') => `${SERVERS}/${action}?uri=${encodeURIComponent(uri)}`;

const NOTICES: Record<string, string> = {
  registered: 'Resource server registered: clients can ask for tokens for it (the resource parameter, RFC 8707).',
  saved: 'Changes saved: new tokens for it follow them within a second.',
  removed: 'Resource server removed: no new token can be issued for it.',
};

/**
 * The console's Resource servers section (RFC 8707 audiences): list,
 * register, edit and remove, through ResourceServerRegistry as the CLI's
 * `resource add` and `resource remove`. Gatehouse's own API needs no entry.
 */
export function mountResourceServerPages(router: Router, deps: ResourceServerPagesDeps): void {
  const { resourceServers, scopes, pages } = deps;
  const requireAdmin = pages.requireAdmin(ADMIN_PATH);
  const render = sectionRenderer(pages, 'resource-servers', { serversHome: SERVERS, serverPath, algs: SIGNING_ALGS });
  const formPage = async (ctx: Context, mode: 'create' | 'edit', values: ServerForm, errors: Record<string, string[]> = {}, status = 200) => {
    render(ctx, 'console/resource-servers/form', {
      title: mode === 'create' ? 'Register a resource server' : `Edit ${values.uri}`, mode, values, errors, scopeNames: await scopes.names(),
    }, status);
  };
  const uriOf = (ctx: Context): string => (typeof ctx.query.uri === 'string' ? ctx.query.uri : '');

  router.get(SERVERS, requireAdmin, async (ctx) => {
    render(ctx, 'console/resource-servers/list', { title: 'Resource servers', items: await resourceServers.list(), notice: noticeOf(ctx, NOTICES) });
  });

  router.get(`${SERVERS}/new`, requireAdmin, async (ctx) => {
    await formPage(ctx, 'create', { uri: '', scope: '', token_format: 'jwt', access_token_ttl: '', signing_alg: 'RS256' });
  });

  /** Saves a posted form through the registry; a refusal comes back on the form, as typed. */
  const saveForm = async (ctx: Context, mode: 'create' | 'edit', values: ServerForm) => {
    try {
      await resourceServers.save(serverInput(values), actorOf(ctx), mode === 'create' ? 'new' : 'existing');
      seeOther(ctx, `${SERVERS}?done=${mode === 'create' ? 'registered' : 'saved'}`);
    } catch (error) {
      await formPage(ctx, mode, values, fieldErrors(error), 422);
    }
  };

  router.post(SERVERS, readForm, requireAdmin, (ctx) => saveForm(ctx, 'create', readServerForm(ctx.request.body as Form)));

  router.get(`${SERVERS}/edit`, requireAdmin, async (ctx) => {
    await formPage(ctx, 'edit', formOf(await resourceServers.show(uriOf(ctx))));
  });

  router.post(`${SERVERS}/edit`, readForm, requireAdmin, async (ctx) => {
    const existing = await resourceServers.show(formText(ctx.request.body as Form, 'uri'));
    // The URI is the audience tokens already carry: it is not edited, only the settings.
    await saveForm(ctx, 'edit', { ...readServerForm(ctx.request.body as Form), uri: existing.uri });
  });

  router.get(`${SERVERS}/remove`, requireAdmin, async (ctx) => {
    const server = await resourceServers.show(uriOf(ctx));
    render(ctx, 'console/resource-servers/remove', { title: `Remove ${server.uri}`, server });
  });

  router.post(`${SERVERS}/remove`, readForm, requireAdmin, async (ctx) => {
    await resourceServers.remove(formText(ctx.request.body as Form, 'uri'), actorOf(ctx));
    seeOther(ctx, `${SERVERS}?done=removed`);
  });
}
