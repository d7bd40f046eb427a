import type Router from '@koa/router';
import type { Context } from 'koa';
import { StaleWriteError } from '../../errors/app-error.js';
import { SIGNING_ALGS } from '../../keys/service.js';
import type { NewResourceServer, ResourceServerRecord, ResourceServerRegistry } from '../../resource-servers/registry.js';
import type { ScopeRegistry } from '../../scopes/registry.js';
import { changedOnly, choices, EditForm, lostRaceErrors } from '../../web/form-version.js';
import { ADMIN_PATH } from '../../web/paths.js';
import { actorOf, fieldErrors, type Form, formText, readForm, seeOther, type SignedInPages } from '../../web/signed-in-pages.js';
import { noticeOf } from '../../web/notices.js';
import { sectionRenderer } from './section.js';

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

/** The scope words of a form or a record, as a set. */
const scopeWords = (text: string) => choices(text.split(/[\s,]+/).filter(Boolean));

/** The edit form's fields (the URI is the record's identity, not one of them), as shown and as posted. */
const EDIT_FORM = new EditForm<ResourceServerRecord, Exclude<keyof ServerForm, 'uri'>>({
  scope: { label: 'Scopes', shown: (record) => scopeWords(record.scope), posted: (form) => scopeWords(readServerForm(form).scope) },
  token_format: { label: 'Token format', shown: (record) => formOf(record).token_format, posted: (form) => readServerForm(form).token_format },
  access_token_ttl: { label: 'Access token lifetime', shown: (record) => formOf(record).access_token_ttl, posted: (form) => readServerForm(form).access_token_ttl },
  signing_alg: { label: 'Signing algorithm', shown: (record) => formOf(record).signing_alg, posted: (form) => readServerForm(form).signing_alg },
});

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
  const formPage = async (ctx: Context, mode: 'create' | 'edit', values: ServerForm, errors: Record<string, string[]> = {}, status = 200, formVersion?: string) => {
    render(ctx, 'console/resource-servers/form', {
      title: mode === 'create' ? 'Register a resource server' : `Edit ${values.uri}`, mode, values, errors, scopeNames: await scopes.names(), formVersion,
    }, status);
  };
  /** The edit form showing the resource server as it is now, with the version it was loaded from. */
  const editPage = (ctx: Context, record: ResourceServerRecord, errors: Record<string, string[]> = {}, status = 200) =>
    formPage(ctx, 'edit', formOf(record), errors, status, EDIT_FORM.version(record));
  const uriOf = (ctx: Context): string => (typeof ctx.query.uri === 'string' ? ctx.query.uri : '');

  router.get(SERVERS, requireAdmin, async (ctx) => {
    render(ctx, 'console/resource-servers/list', { title: 'Resource servers', items: await resourceServers.list(), notice: noticeOf(ctx, NOTICES) });
  });

  router.get(`${SERVERS}/new`, requireAdmin, async (ctx) => {
    await formPage(ctx, 'create', { uri: '', scope: '', token_format: 'jwt', access_token_ttl: '', signing_alg: 'RS256' });
  });

  /**
   * Saves `values` through the registry; a refusal comes back on the form
   * as typed (`shown`), with the version it was loaded from (`formVersion`).
   */
  const saveForm = async (ctx: Context, mode: 'create' | 'edit', values: ServerForm, shown = values, formVersion?: string, asSeen?: ResourceServerRecord) => {
    try {
      await resourceServers.save(serverInput(values), actorOf(ctx), mode === 'create' ? 'new' : 'existing', { asSeen });
      seeOther(ctx, `${SERVERS}?done=${mode === 'create' ? 'registered' : 'saved'}`);
    } catch (error) {
      if (asSeen && error instanceof StaleWriteError) {
        await editPage(ctx, await resourceServers.show(asSeen.uri), lostRaceErrors(error.message), 409);
        return;
      }
      await formPage(ctx, mode, shown, fieldErrors(error), 422, formVersion);
    }
  };

  router.post(SERVERS, readForm, requireAdmin, (ctx) => saveForm(ctx, 'create', readServerForm(ctx.request.body as Form)));

  router.get(`${SERVERS}/edit`, requireAdmin, async (ctx) => {
    await editPage(ctx, await resourceServers.show(uriOf(ctx)));
  });

  // Only what this administrator changed on the form is written (see EditForm).
  router.post(`${SERVERS}/edit`, readForm, requireAdmin, async (ctx) => {
    const body = ctx.request.body as Form;
    const existing = await resourceServers.show(formText(body, 'uri'));
    const plan = EDIT_FORM.plan(body, existing);
    if (plan.outcome === 'conflict') {
      await editPage(ctx, existing, EDIT_FORM.conflictErrors(plan), 409);
      return;
    }
    // Nothing changed here: nothing to write (nor an audit event of a change that was not made).
    if (!plan.changed.size) {
      seeOther(ctx, `${SERVERS}?done=saved`);
      return;
    }
    // The URI is the audience tokens already carry: it is not edited, only the settings.
    const typed = { ...readServerForm(body), uri: existing.uri };
    // Written only while it is still what this page judged against: a save racing another is a conflict, not a lost update.
    await saveForm(ctx, 'edit', { ...formOf(existing), ...changedOnly(plan.changed, typed), uri: existing.uri }, typed, EDIT_FORM.postedVersion(body), existing);
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
