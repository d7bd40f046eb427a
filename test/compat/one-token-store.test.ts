import { expect } from 'chai';
import { basicAuth, postForm, postJson, send } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * DESIGN.md: "a token minted through any dialect is one token". Each token
 * below comes from a different dialect and is then used everywhere else.
 */
describe('one token store across dialects', () => {
  let server: TestServer;
  let clientId: string;
  let clientSecret: string;
  const user = { username: `heidi-${Date.now()}`, password: 'one store to rule' };

  before(async () => {
    server = await startTestServer();
    const created = await server.services.clients.create({
      name: 'Everywhere client', grantTypes: ['client_credentials', 'password', 'refresh_token'], scope: ['read', 'write'],
    });
    clientId = created.client.clientId;
    clientSecret = created.clientSecret!;
    await server.services.accounts.create(user);
  });

  after(() => server.stop());

  const mint: Record<string, (s: TestServer) => Promise<string>> = {
    LOS: async (s) => (await postJson(`${s.url}/api/v1.1/oauth/token`, { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: '*' })).json.data!.access_token as string,
    'LE Enterprise': async (s) => (await postForm(`${s.url}/liveexpert/oauth/authorize`, { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret })).json.access_token as string,
    'django-oauth-toolkit': async (s) => (await postJson(`${s.url}/auth/oauth2/token/`, { grant_type: 'password', ...user }, { authorization: basicAuth(clientId, clientSecret) })).json.access_token as string,
    standard: async (s) => (await postForm(`${s.url}/token`, { grant_type: 'client_credentials', scope: 'read' }, { authorization: basicAuth(clientId, clientSecret) })).json.access_token as string,
  };

  for (const [dialect, issue] of Object.entries(mint)) {
    it(`a ${dialect} token is introspectable, accepted under both schemes, and dead once revoked at the standard endpoint`, async () => {
      const token = await issue(server);
      expect(token).to.be.a('string');
      const auth = { authorization: basicAuth(clientId, clientSecret) };
      expect((await postForm(`${server.url}/token/introspection`, { token }, auth)).json).to.include({ active: true, client_id: clientId });
      for (const scheme of ['Bearer', 'LEAccess']) {
        const whoami = await send(`${server.url}/api/whoami`, { method: 'GET', headers: { authorization: `${scheme} ${token}` } });
        expect(whoami.status, scheme).to.equal(200);
        expect(whoami.json).to.include({ client_id: clientId, token_type: scheme });
      }
      expect((await postForm(`${server.url}/token/revocation`, { token }, auth)).status).to.equal(200);
      expect((await postForm(`${server.url}/token/introspection`, { token }, auth)).json.active).to.equal(false);
      expect((await send(`${server.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${token}` } })).status).to.equal(401);
    });
  }

  it('a standard token is revocable at the django-oauth-toolkit revoke_token/ endpoint', async () => {
    const token = await mint.standard!(server);
    expect((await postJson(`${server.url}/auth/oauth2/revoke_token/`, { token, client_id: clientId, client_secret: clientSecret })).status).to.equal(200);
    expect((await send(`${server.url}/api/whoami`, { method: 'GET', headers: { authorization: `LEAccess ${token}` } })).status).to.equal(401);
  });

  it('the django-oauth-toolkit user token names the user at /api/whoami', async () => {
    const token = await mint['django-oauth-toolkit']!(server);
    const whoami = await send(`${server.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${token}` } });
    expect(whoami.json.sub).to.be.a('string');
    expect(whoami.json.scope).to.equal('read write');
  });
});
