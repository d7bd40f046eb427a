import { expect } from 'chai';
import { authorize, discover, redeem, REDIRECT_URI } from '../support/oidc.js';
import { basicAuth, postForm, send } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Issue 15 H1: a token issued for another resource server (RFC 8707) opens
 * none of Gatehouse's own surfaces, whatever its scopes or its user's role,
 * opaque or JWT; a token for Gatehouse (its API audience, or the issuer's
 * audience-less opaque tokens) still does.
 */
describe('token audience: one rule on every surface that takes a bearer token', () => {
  let server: TestServer;
  const stamp = Date.now();
  const admin = { username: `ada-${stamp}`, password: 'audience admin password' };
  const ADMIN_SCOPES = ['read', 'admin', 'role:admin'];
  // Every surface of Gatehouse that accepts a bearer token.
  const SURFACES: Array<{ name: string; method: string; path: string; body?: string }> = [
    { name: 'whoami', method: 'GET', path: '/api/whoami' },
    { name: 'Northstar clients', method: 'GET', path: '/v2/clients' },
    { name: 'Northstar key', method: 'GET', path: '/v2/key' },
    { name: 'Northstar audit', method: 'GET', path: '/v2/audit' },
    { name: 'Northstar create', method: 'POST', path: '/v2/clients', body: JSON.stringify({ title: `Escalated ${stamp}`, scope: ['admin'] }) },
    { name: 'Lux query GET', method: 'GET', path: '/Lux/OAuth2/query/' },
    { name: 'Lux query POST', method: 'POST', path: '/Lux/OAuth2/query/', body: '{"client_name":""}' },
    { name: 'Lux adjust', method: 'POST', path: '/Lux/OAuth2/adjust/', body: JSON.stringify({ client_name: `Escalated ${stamp}`, redirect_uri: REDIRECT_URI, scope: 'admin' }) },
  ];
  const tokens: Record<string, string> = {};

  const call = (surface: (typeof SURFACES)[number], token: string) => send(`${server.url}${surface.path}`, {
    method: surface.method,
    headers: { authorization: `Bearer ${token}`, ...(surface.body ? { 'content-type': 'application/json' } : {}) },
    body: surface.body,
  });

  before(async () => {
    server = await startTestServer();
    await server.services.accounts.create({ ...admin, roles: ['admin'] });
    for (const format of ['opaque', 'jwt'] as const) {
      const resource = `https://rs-${format}-${stamp}.example.test/`;
      await server.services.resourceServers.save({ uri: resource, scope: ADMIN_SCOPES, tokenFormat: format });
      // A machine client with every admin scope, asking for the resource server.
      const machine = await server.services.clients.create({ name: `m2m ${format}`, grantTypes: ['client_credentials'], scope: ADMIN_SCOPES });
      const auth = { authorization: basicAuth(machine.client.clientId, machine.clientSecret!) };
      const foreign = await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: ADMIN_SCOPES.join(' '), resource }, auth);
      expect(foreign.status, foreign.text).to.equal(200);
      tokens[`machine token for ${format} resource server`] = foreign.json.access_token as string;
      // An ordinary web client an admin signs in to, with the resource server as the resource.
      const web = await server.services.clients.create({
        name: `web ${format}`, grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scope: ['openid', ...ADMIN_SCOPES],
      });
      const config = await discover(server, web.client.clientId, web.clientSecret);
      const flow = await authorize(config, admin, { scope: `openid ${ADMIN_SCOPES.join(' ')}`, parameters: { resource } });
      const grant = await redeem(config, flow, { resource });
      tokens[`admin user's token for ${format} resource server`] = grant.access_token;
    }
    // What must keep working: tokens for Gatehouse itself.
    const own = await server.services.clients.create({ name: 'own admin m2m', grantTypes: ['client_credentials'], scope: ADMIN_SCOPES });
    const ownAuth = { authorization: basicAuth(own.client.clientId, own.clientSecret!) };
    tokens.control = (await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: ADMIN_SCOPES.join(' ') }, ownAuth)).json.access_token as string;
  });

  after(() => server.stop());

  it('the foreign tokens are genuine: introspection calls them active, for their resource server', async () => {
    const caller = await server.services.clients.create({ name: 'introspector', grantTypes: ['client_credentials'], scope: ['read'] });
    for (const [name, token] of Object.entries(tokens)) {
      if (name === 'control') continue;
      const reply = await postForm(`${server.url}/token/introspection`, { token }, { authorization: basicAuth(caller.client.clientId, caller.clientSecret!) });
      expect(reply.json.active, name).to.equal(true);
      expect(String(reply.json.aud), name).to.match(/^https:\/\/rs-(opaque|jwt)-/);
    }
  });

  for (const surface of SURFACES) {
    it(`${surface.name}: 401 invalid_token for every token issued for another resource server`, async () => {
      for (const [name, token] of Object.entries(tokens)) {
        if (name === 'control') continue;
        const reply = await call(surface, token);
        expect(reply.status, `${name} at ${surface.method} ${surface.path}: ${reply.text}`).to.equal(401);
        expect(reply.headers.get('www-authenticate'), name).to.match(/error="invalid_token"/);
      }
    });
  }

  it('nothing was created by the refused calls, and a token for Gatehouse itself still opens every surface', async () => {
    const created = await server.services.clients.list({ name: `Escalated ${stamp}`, perPage: 10 });
    expect(created.clients).to.have.length(0);
    for (const surface of SURFACES.filter((s) => s.method === 'GET')) {
      expect((await call(surface, tokens.control!)).status, surface.name).to.equal(200);
    }
  });

  it('the resource check used by a separate resource server accepts its own tokens and refuses Gatehouse’s audience-less ones', async () => {
    const { createTokenCheck } = await import('../../src/resource-check/token-check.js');
    const resource = `https://rs-jwt-${stamp}.example.test/`;
    const check = createTokenCheck({ issuer: server.issuer, audience: resource, jwks: new URL(`${server.url}/jwks`) });
    const info = await check(`Bearer ${tokens['machine token for jwt resource server']!}`, ['admin']);
    expect(info.audience).to.deep.equal([resource]);
    const other = createTokenCheck({ issuer: server.issuer, audience: `https://rs-opaque-${stamp}.example.test/`, jwks: new URL(`${server.url}/jwks`) });
    const refused = await other(`Bearer ${tokens['machine token for jwt resource server']!}`).then(() => 'accepted', (error: Error) => error.message);
    expect(refused).to.match(/another resource/);
  });
});
