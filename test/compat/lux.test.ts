import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { FormBrowser } from '../support/form-browser.js';
import { basicAuth, postForm, postJson, send } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

const CALLBACK = 'https://lux-client.example.test/oauth/callback';

describe('Lux dialect: /Lux/OAuth2/', () => {
  let server: TestServer;
  let client: { id: string; secret: string };
  const user = { username: `ivan-${Date.now()}`, password: 'lux user password' };
  const admin = { username: `judy-${Date.now()}`, password: 'lux admin password' };
  const tokens: Record<string, string> = {};

  async function authorize(params: Record<string, string>) {
    const browser = new FormBrowser((next) => next.href.startsWith(CALLBACK));
    const url = `${server.url}/Lux/OAuth2/authorize/?${new URLSearchParams(params).toString()}`;
    let page = await browser.navigate(url);
    if (page.html.includes('/login"')) page = await browser.submit(page, '/login', user);
    if (page.html.includes('/confirm"')) page = await browser.submit(page, '/confirm');
    return page;
  }

  const redeem = (body: Record<string, string>) => postForm(`${server.url}/Lux/OAuth2/access_token/`, body);

  before(async () => {
    server = await startTestServer();
    const created = await server.services.clients.create({
      name: 'Old Lux app', grantTypes: ['authorization_code'], redirectUris: [CALLBACK], scope: ['openid', 'profile', 'user'],
    });
    client = { id: created.client.clientId, secret: created.clientSecret! };
    await server.services.accounts.create(user);
    await server.services.accounts.create({ ...admin, roles: ['admin'] });
    const pw = await server.services.clients.create({ name: 'token helper', grantTypes: ['password'], scope: ['user', 'admin', 'role:admin'] });
    const helper = { authorization: basicAuth(pw.client.clientId, pw.clientSecret!) };
    const userToken = async (who: { username: string; password: string }, scope: string) => (await postForm(`${server.url}/token`, { grant_type: 'password', ...who, scope }, helper)).json.access_token as string;
    // What any application an administrator signs in to holds: their token, without an administrative scope.
    tokens.adminUser = await userToken(admin, 'user');
    tokens.adminRole = await userToken(admin, 'user role:admin');
    tokens.plainUser = await userToken(user, 'user');
    tokens.plainRole = await userToken(user, 'user role:admin');
    const m2m = await server.services.clients.create({ name: 'admin m2m', grantTypes: ['client_credentials'], scope: ['admin', 'read'] });
    const m2mAuth = { authorization: basicAuth(m2m.client.clientId, m2m.clientSecret!) };
    tokens.adminScope = (await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'admin' }, m2mAuth)).json.access_token as string;
    tokens.readScope = (await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'read' }, m2mAuth)).json.access_token as string;
  });

  after(() => server.stop());

  it('runs the documented flow without PKCE: authorize/ echoes state exactly, access_token/ returns the token', async () => {
    const state = 'opaque state/with spaces & symbols=1';
    const page = await authorize({ client_id: client.id, redirect_uri: CALLBACK, response_type: 'code', state });
    const callback = new URL(page.url);
    expect(`${callback.origin}${callback.pathname}`).to.equal(CALLBACK);
    expect(callback.searchParams.get('state')).to.equal(state);
    const code = callback.searchParams.get('code')!;
    const reply = await redeem({ client_id: client.id, client_secret: client.secret, redirect_uri: CALLBACK, code, grant_type: 'authorization_code' });
    expect(reply.status).to.equal(200);
    expect(Object.keys(reply.json).sort()).to.deep.equal(['access_token', 'expires_in', 'token_type']);
    expect(reply.json.token_type).to.equal('Bearer');
    const me = await send(`${server.url}/me`, { method: 'GET', headers: { authorization: `Bearer ${reply.json.access_token as string}` } });
    expect(me.status).to.equal(200);

    const again = await redeem({ client_id: client.id, client_secret: client.secret, redirect_uri: CALLBACK, code, grant_type: 'authorization_code' });
    expect(again.status).to.equal(400);
    expect(again.json.error).to.equal('invalid_grant');
  });

  it('gives an imported client the access token lifetime it had at Lux (dialect_lifetimes)', async () => {
    const imported = { client: { clientId: `lux-imported-${Date.now()}` }, clientSecret: 'the-secret-it-had-at-Lux-long-enough' };
    await server.services.clients.importClient({
      clientId: imported.client.clientId, name: 'Imported Lux app', clientSecret: imported.clientSecret, public: false,
      grantTypes: ['authorization_code'], redirectUris: [CALLBACK], scope: ['openid', 'user'], dialectLifetimes: { accessToken: 120 },
    });
    const browser = new FormBrowser((next) => next.href.startsWith(CALLBACK));
    let page = await browser.navigate(`${server.url}/Lux/OAuth2/authorize/?${new URLSearchParams({ client_id: imported.client.clientId, redirect_uri: CALLBACK, response_type: 'code' }).toString()}`);
    if (page.html.includes('/login"')) page = await browser.submit(page, '/login', user);
    if (page.html.includes('/confirm"')) page = await browser.submit(page, '/confirm');
    const code = new URL(page.url).searchParams.get('code')!;
    const reply = await redeem({ client_id: imported.client.clientId, client_secret: imported.clientSecret!, redirect_uri: CALLBACK, code, grant_type: 'authorization_code' });
    expect(reply.status, reply.text).to.equal(200);
    expect(reply.json.expires_in).to.equal(120);
  });

  it('accepts the exchange as JSON and refuses a redirect_uri that differs from the authorize call', async () => {
    const page = await authorize({ client_id: client.id, redirect_uri: CALLBACK, response_type: 'code', state: 's' });
    const code = new URL(page.url).searchParams.get('code')!;
    const wrong = await postJson(`${server.url}/Lux/OAuth2/access_token/`, { client_id: client.id, client_secret: client.secret, redirect_uri: `${CALLBACK}/other`, code, grant_type: 'authorization_code' });
    expect(wrong.status).to.equal(400);
    expect(wrong.json.error).to.equal('invalid_grant');
  });

  it('answers each path without the trailing slash the document writes, too', async () => {
    const state = 'no-slash';
    const browser = new FormBrowser((next) => next.href.startsWith(CALLBACK));
    let page = await browser.navigate(`${server.url}/Lux/OAuth2/authorize?${new URLSearchParams({ client_id: client.id, redirect_uri: CALLBACK, response_type: 'code', state }).toString()}`);
    if (page.html.includes('/login"')) page = await browser.submit(page, '/login', user);
    if (page.html.includes('/confirm"')) page = await browser.submit(page, '/confirm');
    const code = new URL(page.url).searchParams.get('code')!;
    const reply = await postForm(`${server.url}/Lux/OAuth2/access_token`, { client_id: client.id, client_secret: client.secret, redirect_uri: CALLBACK, code, grant_type: 'authorization_code' });
    expect(reply.status, reply.text).to.equal(200);
    expect((await send(`${server.url}/Lux/OAuth2/query`, { method: 'GET', headers: { authorization: `Bearer ${tokens.adminScope}` } })).status).to.equal(200);
  });

  it('answers bad exchanges in RFC 6749 shape', async () => {
    expect((await redeem({ client_id: client.id, client_secret: 'wrong', redirect_uri: CALLBACK, code: 'x', grant_type: 'authorization_code' })).status).to.equal(401);
    expect((await redeem({ client_id: client.id, client_secret: client.secret, redirect_uri: CALLBACK, code: 'forged', grant_type: 'authorization_code' })).json.error).to.equal('invalid_grant');
    expect((await redeem({ client_id: client.id, client_secret: client.secret, grant_type: 'client_credentials' })).json.error).to.equal('unsupported_grant_type');
    expect((await redeem({ client_id: client.id, client_secret: client.secret, redirect_uri: CALLBACK, grant_type: 'authorization_code' })).json.error).to.equal('invalid_request');
    expect((await postJson(`${server.url}/Lux/OAuth2/access_token/`, '{"code":')).status).to.equal(400);
  });

  it('never redirects for an unknown client or an unregistered redirect_uri, and refuses other response types', async () => {
    for (const params of [
      { client_id: client.id, redirect_uri: 'https://attacker.example.test/cb', response_type: 'code', state: 's' },
      { client_id: 'nobody', redirect_uri: CALLBACK, response_type: 'code', state: 's' },
      { client_id: client.id, redirect_uri: CALLBACK, response_type: 'token', state: 's' },
    ]) {
      const response = await fetch(`${server.url}/Lux/OAuth2/authorize/?${new URLSearchParams(params).toString()}`, { redirect: 'manual' });
      expect(response.status, JSON.stringify(params)).to.equal(400);
      expect(response.headers.get('location')).to.equal(null);
      expect(await response.text()).to.include('Something went wrong');
    }
  });

  it('still requires PKCE from a public client on the Lux path', async () => {
    const spa = await server.services.clients.create({ name: 'SPA', grantTypes: ['authorization_code'], redirectUris: [CALLBACK], scope: ['openid'], public: true });
    const response = await fetch(`${server.url}/Lux/OAuth2/authorize/?${new URLSearchParams({ client_id: spa.client.clientId, redirect_uri: CALLBACK, response_type: 'code', state: 's' }).toString()}`, { redirect: 'manual' });
    expect(new URL(response.headers.get('location')!).searchParams.get('error')).to.equal('invalid_request');
  });

  describe('a Lux client that uses PKCE (RFC 7636)', () => {
    const pkce = () => {
      const verifier = randomBytes(32).toString('base64url');
      return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
    };
    const codeFor = async (clientId: string, challenge: string) => {
      const page = await authorize({ client_id: clientId, redirect_uri: CALLBACK, response_type: 'code', state: 's', code_challenge: challenge, code_challenge_method: 'S256' });
      const code = new URL(page.url).searchParams.get('code');
      expect(code, page.html.slice(0, 300)).to.be.a('string');
      return code!;
    };

    it('redeems its code at access_token/ with its code_verifier, and only with the right one', async () => {
      const { verifier, challenge } = pkce();
      const wrong = await redeem({ client_id: client.id, client_secret: client.secret, redirect_uri: CALLBACK, code: await codeFor(client.id, challenge), grant_type: 'authorization_code', code_verifier: pkce().verifier });
      expect(wrong.status, wrong.text).to.equal(400);
      expect(wrong.json.error).to.equal('invalid_grant');
      const missing = await redeem({ client_id: client.id, client_secret: client.secret, redirect_uri: CALLBACK, code: await codeFor(client.id, challenge), grant_type: 'authorization_code' });
      expect(missing.status, 'a code bound to a challenge needs its verifier').to.equal(400);
      const right = await redeem({ client_id: client.id, client_secret: client.secret, redirect_uri: CALLBACK, code: await codeFor(client.id, challenge), grant_type: 'authorization_code', code_verifier: verifier });
      expect(right.status, right.text).to.equal(200);
      expect(right.json.access_token).to.be.a('string');
    });

    it('lets a public client redeem with its code_verifier and no secret, and never without the verifier', async () => {
      const spa = await server.services.clients.create({ name: 'Lux SPA', grantTypes: ['authorization_code'], redirectUris: [CALLBACK], scope: ['openid', 'user'], public: true });
      const { verifier, challenge } = pkce();
      const wrong = await redeem({ client_id: spa.client.clientId, redirect_uri: CALLBACK, code: await codeFor(spa.client.clientId, challenge), grant_type: 'authorization_code', code_verifier: pkce().verifier });
      expect(wrong.json.error, wrong.text).to.equal('invalid_grant');
      const missing = await redeem({ client_id: spa.client.clientId, redirect_uri: CALLBACK, code: await codeFor(spa.client.clientId, challenge), grant_type: 'authorization_code' });
      expect(missing.status, missing.text).to.equal(400);
      const right = await redeem({ client_id: spa.client.clientId, redirect_uri: CALLBACK, code: await codeFor(spa.client.clientId, challenge), grant_type: 'authorization_code', code_verifier: verifier });
      expect(right.status, right.text).to.equal(200);
    });

    it('still refuses a confidential client that leaves out its secret', async () => {
      const { verifier, challenge } = pkce();
      const reply = await redeem({ client_id: client.id, redirect_uri: CALLBACK, code: await codeFor(client.id, challenge), grant_type: 'authorization_code', code_verifier: verifier });
      expect(reply.status, reply.text).to.equal(401);
      expect(reply.json.error).to.equal('invalid_client');
    });
  });

  it('does not exempt confidential clients from PKCE at the standard endpoint', async () => {
    const response = await fetch(`${server.url}/auth?${new URLSearchParams({ client_id: client.id, redirect_uri: CALLBACK, response_type: 'code', scope: 'openid', state: 's' }).toString()}`, { redirect: 'manual' });
    expect(new URL(response.headers.get('location')!).searchParams.get('error')).to.equal('invalid_request');
  });

  describe('adjust/ and query/', () => {
    const adjust = (token: string | undefined, body: unknown) => postJson(`${server.url}/Lux/OAuth2/adjust/`, body, token ? { authorization: `Bearer ${token}` } : {});
    const query = (token: string | undefined, name = '') => send(`${server.url}/Lux/OAuth2/query/?client_name=${encodeURIComponent(name)}`, { method: 'GET', headers: token ? { authorization: `Bearer ${token}` } : {} });

    it('are privileged: 401 without or with a bad token; 403 for a plain user, a token without admin, and an admin user’s token without role:admin', async () => {
      const before = (await query(tokens.adminScope)).json.doc as unknown[];
      const refusals = [[undefined, 401], ['not-a-token', 401], [tokens.plainUser, 403], [tokens.plainRole, 403], [tokens.readScope, 403], [tokens.adminUser, 403]] as const;
      for (const [token, status] of refusals) {
        expect((await adjust(token, { client_name: 'Sneaky', redirect_uri: CALLBACK })).status).to.equal(status);
        expect((await query(token)).status).to.equal(status);
      }
      expect((await query(tokens.adminScope)).json.doc).to.have.length(before.length);
    });

    it('creates a client with a server-generated id and secret, then updates its name, redirect URI and description', async () => {
      const partner = `Lux Partner ${Date.now()}`;
      const created = await adjust(tokens.adminRole, { client_name: partner, redirect_uri: CALLBACK, description: 'Made by adjust/' });
      expect(created.status).to.equal(200);
      const doc = created.json.doc as Record<string, unknown>;
      expect(doc).to.include({ client_name: partner, redirect_uri: CALLBACK, description: 'Made by adjust/' });
      expect(doc.client_id).to.match(/^[0-9a-f-]{36}$/);
      expect(doc.client_secret).to.be.a('string').with.length.of.at.least(32);

      const updated = await adjust(tokens.adminScope, { client_id: doc.client_id, client_name: `${partner} 2`, redirect_uri: `${CALLBACK}2`, description: 'Changed' });
      expect(updated.json.doc).to.include({ client_id: doc.client_id, client_secret: doc.client_secret, client_name: `${partner} 2`, redirect_uri: `${CALLBACK}2`, description: 'Changed' });
      // Both answers carry the secret: no cache may keep either.
      expect([created.headers.get('cache-control'), updated.headers.get('cache-control')]).to.deep.equal(['no-store', 'no-store']);

      const refused = await adjust(tokens.adminScope, { client_id: doc.client_id, client_secret: 'my own secret', client_name: 'Hijack' });
      expect(refused.status).to.equal(422);
      expect(refused.json.error_description).to.match(/client_secret/);
      const found = (await query(tokens.adminScope, `${partner} 2`)).json.doc as Array<Record<string, unknown>>;
      expect(found).to.have.length(1);
      expect(found[0]).to.include({ client_name: `${partner} 2`, client_secret: doc.client_secret });
      expect((await adjust(tokens.adminScope, { client_id: 'no-such-client', client_name: 'x' })).status).to.equal(404);
    });

    it('validates input and writes nothing on failure', async () => {
      const before = ((await query(tokens.adminScope)).json.doc as unknown[]).length;
      expect((await adjust(tokens.adminScope, { redirect_uri: CALLBACK })).status).to.equal(422);
      expect((await adjust(tokens.adminScope, { client_name: 'No redirect' })).status).to.equal(422);
      expect((await adjust(tokens.adminScope, { client_name: 'Bad redirect', redirect_uri: 'javascript:alert(1)' })).status).to.equal(422);
      expect((await adjust(tokens.adminScope, { client_name: 5, redirect_uri: CALLBACK })).status).to.equal(400);
      expect((await adjust(tokens.adminScope, '{"client_name":')).status).to.equal(400);
      expect(((await query(tokens.adminScope)).json.doc as unknown[]).length).to.equal(before);
    });

    it('queries by POST too, and returns every client when the name is blank', async () => {
      const all = await postJson(`${server.url}/Lux/OAuth2/query/`, { client_name: '' }, { authorization: `Bearer ${tokens.adminScope}` });
      expect((all.json.doc as unknown[]).length).to.be.at.least(3);
      const one = await postJson(`${server.url}/Lux/OAuth2/query/`, { client_name: 'Old Lux app' }, { authorization: `Bearer ${tokens.adminScope}` });
      const found = one.json.doc as Array<{ client_id: string; client_name: string }>;
      expect(found.map((d) => d.client_id)).to.include(client.id);
      expect(new Set(found.map((d) => d.client_name))).to.deep.equal(new Set(['Old Lux app']));
    });

    it('finds the client of exactly that name, never one whose name merely contains it (a tool reading doc[0] would get another client’s secret)', async () => {
      const name = `Partner ${Date.now()}`;
      // Made first, so a search would list it first.
      await server.services.clients.create({ name: `LE ${name}`, grantTypes: ['authorization_code'], redirectUris: [CALLBACK], scope: ['openid'] });
      const { client: partner } = await server.services.clients.create({ name, grantTypes: ['authorization_code'], redirectUris: [CALLBACK], scope: ['openid'] });
      const found = (await query(tokens.adminScope, name)).json.doc as Array<Record<string, unknown>>;
      expect(found.map((d) => d.client_id)).to.deep.equal([partner.clientId]);
      expect((await query(tokens.adminScope, name.toLowerCase())).json.doc).to.deep.equal([]);
    });

    it('returns every client when the name is blank, past the first thousand', async () => {
      const total = (await server.services.clients.list({ perPage: 1 })).total;
      const missing = Math.max(0, 1001 - total);
      for (let i = 0; i < missing; i += 50) {
        await Promise.all(Array.from({ length: Math.min(50, missing - i) }, (_, j) => server.services.clients.create({
          name: `Many ${i + j}`, grantTypes: ['client_credentials'], scope: ['read'],
        })));
      }
      const all = (await query(tokens.adminScope)).json.doc as unknown[];
      expect(all).to.have.length((await server.services.clients.list({ perPage: 1 })).total).and.length.above(1000);
    });

    it('sees the same records as Northstar and the CLI', async () => {
      const viaNorthstar = await postJson(`${server.url}/v2/clients`, { title: 'Northstar made', scope: ['user'] }, { authorization: `Bearer ${tokens.adminScope}` });
      const id = (viaNorthstar.json.data as Record<string, string>).client_id;
      const seen = (await query(tokens.adminScope, 'Northstar made')).json.doc as Array<Record<string, unknown>>;
      expect(seen.map((d) => d.client_id)).to.include(id);
      const viaLux = (await adjust(tokens.adminScope, { client_name: 'Lux made', redirect_uri: CALLBACK })).json.doc as Record<string, string>;
      const northstar = await send(`${server.url}/v2/clients/${viaLux.client_id!}`, { method: 'GET', headers: { authorization: `Bearer ${tokens.adminScope}` } });
      expect(northstar.json.data).to.include({ title: 'Lux made', client_secret: viaLux.client_secret });
    });
  });
});
