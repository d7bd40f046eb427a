import { expect } from 'chai';
import { basicAuth, postForm } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Issue 15: the client-authenticating endpoints answered CORS for any
 * Origin. Now only a browser (public) client's pages, at the origin of one of
 * its redirect URIs, may read the answers; never for a confidential client,
 * and never when no client was authenticated.
 */
describe('CORS at the client-authenticating endpoints', () => {
  let server: TestServer;
  const app = 'https://spa.example.test';
  const evil = 'https://evil.example.test';
  let spa: string;
  let confidential: { id: string; secret: string };
  const ENDPOINTS: Array<[string, Record<string, string>]> = [
    ['/token', { grant_type: 'authorization_code', code: 'no-such-code', redirect_uri: `${app}/cb`, code_verifier: 'v'.repeat(43) }],
    ['/token/introspection', { token: 'no-such-token' }],
    ['/token/revocation', { token: 'no-such-token' }],
  ];

  before(async () => {
    server = await startTestServer();
    spa = (await server.services.clients.create({ name: 'spa', grantTypes: ['authorization_code'], redirectUris: [`${app}/cb`], scope: ['openid'], public: true })).client.clientId;
    const made = await server.services.clients.create({ name: 'backend', grantTypes: ['client_credentials'], scope: ['read'] });
    confidential = { id: made.client.clientId, secret: made.clientSecret! };
  });

  after(() => server.stop());

  const allowed = async (path: string, form: Record<string, string>, origin: string, auth: Record<string, string>) => {
    const reply = await postForm(`${server.url}${path}`, form, { origin, ...auth });
    return reply.headers.get('access-control-allow-origin');
  };

  it('/me (userinfo): a token’s answer is readable at its client’s origins only, and an invalid token’s at none (no validity oracle)', async () => {
    const { client, clientSecret } = await server.services.clients.create({ name: 'web', grantTypes: ['password', 'authorization_code'], redirectUris: [`${app}/cb`], scope: ['openid'] });
    const username = `cors-${Date.now()}`;
    await server.services.accounts.create({ username, password: 'correct horse battery' });
    const issued = await postForm(`${server.url}/token`, { grant_type: 'password', username, password: 'correct horse battery', scope: 'openid' }, { authorization: basicAuth(client.clientId, clientSecret!) });
    const token = issued.json.access_token as string;
    const readableAt = async (origin: string, bearer: string) => (await fetch(`${server.url}/me`, { headers: { origin, authorization: `Bearer ${bearer}` } })).headers.get('access-control-allow-origin');
    expect(await readableAt(app, token), 'the client’s own origin').to.equal(app);
    expect(await readableAt(evil, token), 'another origin').to.equal(null);
    expect(await readableAt(evil, 'no-such-token'), 'an invalid token, from anywhere').to.equal(null);
    expect(await readableAt(app, 'no-such-token'), 'an invalid token, even from a client’s origin').to.equal(null);
  });

  for (const [path, form] of ENDPOINTS) {
    it(`${path}: readable by a browser client's own origin only`, async () => {
      expect(await allowed(path, { ...form, client_id: spa }, app, {}), 'the SPA at its origin').to.equal(app);
      expect(await allowed(path, { ...form, client_id: spa }, evil, {}), 'the SPA’s client_id from elsewhere').to.equal(null);
      expect(await allowed(path, form, evil, { authorization: basicAuth(confidential.id, confidential.secret) }), 'a confidential client').to.equal(null);
      expect(await allowed(path, form, app, { authorization: basicAuth(confidential.id, 'wrong secret') }), 'a failed client authentication').to.equal(null);
      expect(await allowed(path, form, evil, { authorization: basicAuth('no-such-client', 'x') }), 'an unknown client').to.equal(null);
    });
  }
});
