import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { issueInitialAccessToken } from '../../src/provider/registration.js';
import { adminApiHeaders } from '../support/admin.js';
import { runCli } from '../support/cli.js';
import { DASHBOARD, dashboardSignIn, postDashboardForm } from '../support/dashboard.js';
import type { FormBrowser } from '../support/form-browser.js';
import { postForm, postJson, send } from '../support/http.js';
import { REDIRECT_URI } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** Client metadata in RFC 7591 §2 terms; each surface says it in its own words. */
interface Metadata {
  grant_types: string[];
  token_endpoint_auth_method?: 'none';
  redirect_uris?: string[];
  scope: string;
  /** Administrator-only properties (imports): waiving consent, the client's own dialect lifetimes. */
  skip_consent?: true;
  dialect_lifetimes?: Record<string, number>;
  /**
   * What the client calls itself: at most 200 characters on every surface;
   * self-service names also at most 100 and never Gatehouse's own (a
   * registrant chooses its own). Each administrator surface sends it as its
   * own name field, or a name of its own when absent.
   */
  client_name?: string;
  /** A URI the server itself calls (OpenID Connect Back-Channel Logout); only the CLI and RFC 7591/7592 can say it. */
  backchannel_logout_uri?: string;
}

interface Row {
  what: string;
  metadata: Metadata;
  /** Only self-service registration (RFC 7591/7592) must refuse it; administrators may. */
  selfServiceOnly?: true;
}

/** Metadata no surface may accept (src/clients/metadata-rules.ts). */
const BAD: Row[] = [
  { what: 'a public client_credentials client', metadata: { grant_types: ['client_credentials'], token_endpoint_auth_method: 'none', scope: 'read' } },
  { what: 'a public password client', metadata: { grant_types: ['password'], token_endpoint_auth_method: 'none', scope: 'read' } },
  { what: 'a public token-exchange client', metadata: { grant_types: [TOKEN_EXCHANGE], token_endpoint_auth_method: 'none', scope: 'read' } },
  { what: 'a public code client that may also use client_credentials', metadata: { grant_types: ['authorization_code', 'client_credentials'], token_endpoint_auth_method: 'none', redirect_uris: [REDIRECT_URI], scope: 'openid' } },
  { what: 'refresh_token beside client_credentials only', metadata: { grant_types: ['client_credentials', 'refresh_token'], scope: 'read' } },
  { what: 'refresh_token alone', metadata: { grant_types: ['refresh_token'], scope: 'read' } },
  { what: 'a redirect URI with a fragment', metadata: { grant_types: ['authorization_code'], redirect_uris: [`${REDIRECT_URI}#x`], scope: 'openid' } },
  { what: 'a plain-http redirect URI off loopback', metadata: { grant_types: ['authorization_code'], redirect_uris: ['http://rp.example.test/callback'], scope: 'openid' } },
  { what: 'a javascript: redirect URI', metadata: { grant_types: ['authorization_code'], redirect_uris: ['javascript:alert(1)'], scope: 'openid' } },
  { what: 'authorization_code without a redirect URI', metadata: { grant_types: ['authorization_code'], redirect_uris: [], scope: 'openid' } },
  { what: 'an unregistered scope', metadata: { grant_types: ['authorization_code'], redirect_uris: [REDIRECT_URI], scope: 'openid superpowers' } },
  { what: 'a restricted (administrative) scope', metadata: { grant_types: ['client_credentials'], scope: 'read admin' }, selfServiceOnly: true },
  { what: 'a client that waives the consent page (skip_consent)', metadata: { grant_types: ['authorization_code'], redirect_uris: [REDIRECT_URI], scope: 'openid', skip_consent: true }, selfServiceOnly: true },
  { what: 'a client with its own token lifetimes (dialect_lifetimes)', metadata: { grant_types: ['client_credentials'], scope: 'read', dialect_lifetimes: { accessToken: 31_536_000 } }, selfServiceOnly: true },
  { what: 'a client calling itself by the dashboard\'s name', metadata: { grant_types: ['authorization_code'], redirect_uris: [REDIRECT_URI], scope: 'openid', client_name: 'Gatehouse dashboard' }, selfServiceOnly: true },
  { what: 'a client whose name starts with Gatehouse, in any case', metadata: { grant_types: ['authorization_code'], redirect_uris: [REDIRECT_URI], scope: 'openid', client_name: '  gatehouse x' }, selfServiceOnly: true },
  { what: 'a client whose name reads as Gatehouse (full-width letters, a zero-width space)', metadata: { grant_types: ['authorization_code'], redirect_uris: [REDIRECT_URI], scope: 'openid', client_name: 'Ｇａｔｅ\u200bhouse Admin' }, selfServiceOnly: true },
  { what: 'a client with a 300-character name', metadata: { grant_types: ['authorization_code'], redirect_uris: [REDIRECT_URI], scope: 'openid', client_name: 'A'.repeat(300) }, selfServiceOnly: true },
  { what: 'a back-channel logout URI on a loopback address (the server would POST to itself)', metadata: { grant_types: ['authorization_code'], redirect_uris: [REDIRECT_URI], scope: 'openid', backchannel_logout_uri: 'http://127.0.0.1:6379/x' } },
  { what: 'a back-channel logout URI on a link-local address (cloud metadata)', metadata: { grant_types: ['authorization_code'], redirect_uris: [REDIRECT_URI], scope: 'openid', backchannel_logout_uri: 'https://169.254.169.254/latest' } },
  // Random, so that PostgreSQL cannot compress it into the name index's row.
  { what: 'a client with a 4000-character name (longer than the name index can hold)', metadata: { grant_types: ['authorization_code'], redirect_uris: [REDIRECT_URI], scope: 'openid', client_name: randomBytes(3000).toString('base64url') } },
];

/** What the rows above are measured against: acceptable on every surface that can say it. */
const GOOD: Metadata = { grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [REDIRECT_URI], scope: 'openid read' };

/** A surface's answer: whether it refused, in its own error shape, and what it said. */
interface Verdict { refused: boolean; detail: string }

interface Surface {
  name: string;
  /** Whether this is RFC 7591/7592 (self-service) rather than an administrator's surface. */
  selfService?: true;
  /** Sends the metadata; `undefined` when this surface has no words for it (say, a public client on Northstar). */
  attempt(metadata: Metadata): Promise<Verdict | undefined>;
  /** Reads back what the surface changes, to prove a refusal wrote nothing. */
  state(): Promise<unknown>;
}

describe('client metadata rules: one rule set on every surface that makes or changes a client', () => {
  let server: TestServer;
  let admin: Record<string, string>;
  let dashboard: FormBrowser;
  const stamp = Date.now();
  const dashboardAdmin = { username: `rules-admin-${stamp}`, password: 'rules admin password' };
  /** Clients the update surfaces change. */
  const target: Record<string, string> = {};
  let registration: { uri: string; rat: string };
  /** For each row, the surfaces that could express it and refused it. */
  const refusedBy = new Map<string, string[]>();

  const clientCount = async () => (await server.services.clients.list({ perPage: 1 })).total;
  const clientState = async (id: string) => {
    const { updatedAt, redirectUris, scope, grantTypes, public: isPublic } = await server.services.clients.show(id);
    return { updatedAt, redirectUris, scope, grantTypes, isPublic };
  };
  const scopeList = (metadata: Metadata) => metadata.scope.split(' ');
  const onlyRedirectsAndScope = (metadata: Metadata, grants: string[]) => metadata.token_endpoint_auth_method === undefined
    && metadata.backchannel_logout_uri === undefined && metadata.grant_types.join() === grants.join();

  /** RFC 7591 §3.2.2 / RFC 6749 §5.2 shape, for /reg and its RFC 7592 updates. */
  const registrationVerdict = (reply: { status: number; json: Record<string, unknown>; text: string }): Verdict => {
    const refused = reply.status === 400 && ['invalid_client_metadata', 'invalid_redirect_uri'].includes(reply.json.error as string)
      && typeof reply.json.error_description === 'string';
    return { refused, detail: `${reply.status} ${reply.text}` };
  };

  before(async () => {
    server = await startTestServer();
    admin = await adminApiHeaders(server, 'Rules admin job');
    await server.services.accounts.create({ ...dashboardAdmin, roles: ['admin'] });
    dashboard = await dashboardSignIn(server, dashboardAdmin);
    for (const name of ['northstar', 'lux', 'dashboard']) {
      const made = await server.services.clients.create({ name: `Rules target ${name}`, grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scope: ['openid'] });
      target[name] = made.client.clientId;
    }
    const { token: iat } = await issueInitialAccessToken(server.services.provider, 600);
    const registered = await postJson(`${server.url}/reg`, { redirect_uris: [REDIRECT_URI], scope: 'openid' }, { authorization: `Bearer ${iat}` });
    expect(registered.status, registered.text).to.equal(201);
    registration = { uri: (registered.json.registration_client_uri as string).replace(server.issuer, server.url), rat: registered.json.registration_access_token as string };
    target.rfc7592 = registered.json.client_id as string;
  });

  after(() => server?.stop());

  const surfaces: Surface[] = [
    {
      name: 'CLI client create',
      async attempt(metadata) {
        const result = await runCli(server, 'client', 'create', '--name', metadata.client_name ?? 'Rules CLI', '--grant-types', metadata.grant_types.join(','), '--scope', metadata.scope,
          ...(metadata.redirect_uris?.length ? ['--redirect-uris', metadata.redirect_uris.join(',')] : []),
          ...(metadata.token_endpoint_auth_method === 'none' ? ['--public'] : []),
          ...(metadata.backchannel_logout_uri ? ['--backchannel-logout-uri', metadata.backchannel_logout_uri] : []), '--json');
        if (result.code === 0) return { refused: false, detail: result.stdout };
        const error = JSON.parse(result.stderr) as { error?: string; fields?: unknown[] };
        return { refused: result.code === 1 && error.error === 'invalid_input' && Array.isArray(error.fields), detail: result.stderr };
      },
      state: clientCount,
    },
    {
      name: 'Northstar POST /v2/clients',
      async attempt(metadata) {
        // Northstar chooses the grants itself: a confidential client, with the code flow when it has redirect URIs.
        const grants = metadata.redirect_uris?.length ? ['authorization_code'] : ['client_credentials'];
        if (!onlyRedirectsAndScope(metadata, grants) && metadata !== GOOD) return undefined;
        const reply = await postJson(`${server.url}/v2/clients`, { title: metadata.client_name ?? 'Rules Northstar', scope: scopeList(metadata), redirect_uris: metadata.redirect_uris ?? [] }, admin);
        const error = reply.json.error as { code?: number; fields?: object } | undefined;
        return { refused: reply.status === 422 && error?.code === 422 && typeof error.fields === 'object', detail: `${reply.status} ${reply.text}` };
      },
      state: clientCount,
    },
    {
      name: 'Northstar PUT /v2/clients/:id',
      async attempt(metadata) {
        if (!onlyRedirectsAndScope(metadata, ['authorization_code']) && metadata !== GOOD) return undefined;
        const reply = await send(`${server.url}/v2/clients/${target.northstar!}`, {
          method: 'PUT', headers: { 'content-type': 'application/json', ...admin },
          body: JSON.stringify({ ...(metadata.client_name ? { title: metadata.client_name } : {}), scope: scopeList(metadata), redirect_uris: metadata.redirect_uris ?? [] }),
        });
        const error = reply.json.error as { code?: number; fields?: object } | undefined;
        return { refused: reply.status === 422 && error?.code === 422 && typeof error.fields === 'object', detail: `${reply.status} ${reply.text}` };
      },
      state: () => clientState(target.northstar!),
    },
    ...(['create', 'update'] as const).map((mode): Surface => ({
      name: `Lux adjust/ (${mode})`,
      async attempt(metadata) {
        // adjust/ makes code-flow clients from one redirect_uri.
        if ((!onlyRedirectsAndScope(metadata, ['authorization_code']) || metadata.redirect_uris?.length !== 1) && metadata !== GOOD) return undefined;
        const reply = await postJson(`${server.url}/Lux/OAuth2/adjust/`, {
          ...(mode === 'update' ? { client_id: target.lux, ...(metadata.client_name ? { client_name: metadata.client_name } : {}) } : { client_name: metadata.client_name ?? 'Rules Lux' }), redirect_uri: metadata.redirect_uris![0], scope: metadata.scope,
        }, admin);
        // Lux answers in RFC 6749's shape: 422 invalid_input for a rule, 400
        // invalid_request for what its request schema bounds (client_name: 200).
        const shape = (reply.status === 422 && reply.json.error === 'invalid_input') || (reply.status === 400 && reply.json.error === 'invalid_request');
        return { refused: shape && typeof reply.json.error_description === 'string', detail: `${reply.status} ${reply.text}` };
      },
      state: () => (mode === 'create' ? clientCount() : clientState(target.lux!)),
    })),
    {
      name: 'dashboard create form',
      async attempt(metadata) {
        // The dashboard makes confidential clients only, and has no back-channel logout field.
        if (metadata.token_endpoint_auth_method === 'none' || metadata.backchannel_logout_uri !== undefined) return undefined;
        const form = await dashboard.navigate(`${server.issuer}${DASHBOARD}/clients/new`);
        const page = await postDashboardForm(dashboard, form, '/clients', [
          ['name', metadata.client_name ?? 'Rules dashboard'], ['redirect_uris', (metadata.redirect_uris ?? []).join('\n')],
          ...scopeList(metadata).map((s): [string, string] => ['scope', s]), ...metadata.grant_types.map((g): [string, string] => ['grant_types', g]),
        ]);
        return { refused: page.status === 422 && /class="field-error"|role="alert"/.test(page.html), detail: `${page.status} ${page.html.slice(0, 300)}` };
      },
      state: clientCount,
    },
    {
      name: 'dashboard edit form',
      async attempt(metadata) {
        if (!onlyRedirectsAndScope(metadata, ['authorization_code']) && metadata !== GOOD) return undefined;
        const form = await dashboard.navigate(`${server.issuer}${DASHBOARD}/clients/${target.dashboard!}/edit`);
        const page = await postDashboardForm(dashboard, form, `/clients/${target.dashboard!}`, [
          ['name', metadata.client_name ?? 'Rules target dashboard'], ['redirect_uris', (metadata.redirect_uris ?? []).join('\n')], ...scopeList(metadata).map((s): [string, string] => ['scope', s]),
        ]);
        return { refused: page.status === 422 && /class="field-error"|role="alert"/.test(page.html), detail: `${page.status} ${page.html.slice(0, 300)}` };
      },
      state: () => clientState(target.dashboard!),
    },
    {
      name: 'RFC 7591 POST /reg',
      selfService: true,
      async attempt(metadata) {
        const { token } = await issueInitialAccessToken(server.services.provider, 600);
        return registrationVerdict(await postJson(`${server.url}/reg`, metadata, { authorization: `Bearer ${token}` }));
      },
      state: clientCount,
    },
    {
      name: 'RFC 7592 PUT /reg/:id',
      selfService: true,
      async attempt(metadata) {
        const reply = await send(registration.uri, {
          method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${registration.rat}` },
          body: JSON.stringify({ client_id: target.rfc7592, ...metadata }),
        });
        // A successful update rotates the registration access token.
        if (reply.status === 200) registration.rat = reply.json.registration_access_token as string;
        return registrationVerdict(reply);
      },
      state: () => server.services.storage.clients.find(target.rfc7592!).then((record) => record?.metadata),
    },
  ];

  for (const surface of surfaces) {
    describe(surface.name, () => {
      const rows = BAD.filter((row) => !row.selfServiceOnly || surface.selfService);

      it('refuses every row of the table it can express, in its own error shape, and writes nothing', async function () {
        this.timeout(180_000); // the CLI surface is one process per row
        let tried = 0;
        for (const row of rows) {
          const before = await surface.state();
          const verdict = await surface.attempt(row.metadata);
          if (!verdict) continue;
          tried += 1;
          expect(verdict.refused, `${row.what}: ${verdict.detail}`).to.equal(true);
          expect(await surface.state(), `${row.what} changed nothing`).to.deep.equal(before);
          refusedBy.set(row.what, [...(refusedBy.get(row.what) ?? []), surface.name]);
        }
        expect(tried, 'rows this surface can express').to.be.at.least(3);
      });

      it('accepts good metadata (the control: the refusals are about the rules)', async () => {
        const verdict = await surface.attempt(GOOD);
        expect(verdict, 'every surface can express the control').not.to.equal(undefined);
        expect(verdict!.refused, verdict!.detail).to.equal(false);
      });
    });
  }

  // A describe of its own so that it runs after every surface's (mocha runs a level's own tests first).
  describe('the table as a whole', () => {
    it('ran every row through at least two surfaces (RFC 7591 and 7592 always among them)', () => {
      for (const row of BAD) {
        expect(refusedBy.get(row.what) ?? [], row.what).to.include.members(['RFC 7591 POST /reg', 'RFC 7592 PUT /reg/:id']).and.to.have.length.of.at.least(2);
      }
    });
  });

  it('caps a client\'s name at 200 characters on every administrator surface: 201 refused in the surface\'s own error shape, writing nothing; 200 accepted', async function () {
    this.timeout(60_000); // the CLI surface is one process per attempt
    const named = (length: number): Metadata => ({ grant_types: ['authorization_code'], redirect_uris: [REDIRECT_URI], scope: 'openid read', client_name: 'N'.repeat(length) });
    for (const surface of surfaces.filter((candidate) => !candidate.selfService)) {
      const before = await surface.state();
      const tooLong = await surface.attempt(named(201));
      expect(tooLong, `${surface.name} can name a client`).not.to.equal(undefined);
      expect(tooLong!.refused, `${surface.name}, 201 characters: ${tooLong!.detail}`).to.equal(true);
      expect(await surface.state(), `${surface.name} changed nothing`).to.deep.equal(before);
      const longest = await surface.attempt(named(200));
      expect(longest!.refused, `${surface.name}, 200 characters: ${longest!.detail}`).to.equal(false);
    }
  });

  it('refuses, at RFC 7591 registration, the name the reserved dashboard client has as stored, with a description that says why', async () => {
    const dashboardName = (await server.services.clients.show('gatehouse-dashboard')).name;
    const { token } = await issueInitialAccessToken(server.services.provider, 600);
    const reply = await postJson(`${server.url}/reg`, { ...GOOD, client_name: dashboardName }, { authorization: `Bearer ${token}` });
    expect(reply.status, reply.text).to.equal(400);
    expect(reply.json.error).to.equal('invalid_client_metadata');
    expect(reply.json.error_description).to.equal('client_name: may not start with "Gatehouse": that name is reserved for Gatehouse\'s own applications');
  });

  it('accepts a self-service name of 100 characters that merely mentions Gatehouse', async () => {
    const { token } = await issueInitialAccessToken(server.services.provider, 600);
    const name = `Reports for Gatehouse ${'x'.repeat(78)}`;
    const reply = await postJson(`${server.url}/reg`, { ...GOOD, client_name: name }, { authorization: `Bearer ${token}` });
    expect(reply.status, reply.text).to.equal(201);
    expect(reply.json.client_name).to.equal(name);
  });

  it('stops a public client_credentials client already in storage (written before the rule) from getting tokens', async () => {
    const clientId = `stored-public-cc-${stamp}`;
    await server.services.storage.clients.insert({
      client_id: clientId, client_name: 'Old public M2M', grant_types: ['client_credentials'], response_types: [], redirect_uris: [],
      token_endpoint_auth_method: 'none', scope: 'read',
    });
    const reply = await postForm(`${server.url}/token`, { grant_type: 'client_credentials', client_id: clientId, scope: 'read' });
    expect(reply.status, reply.text).to.equal(401);
    expect(reply.json.error).to.equal('invalid_client');
    expect(reply.json).not.to.have.property('access_token');
  });
});
