import { expect } from 'chai';
import { basicAuth, postForm } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * RFC 6749 §5.2 and RFC 8628 §3.2: an authenticated client asking for a
 * grant it is not registered for is `unauthorized_client`, at the standard
 * endpoints and through the dialects that hand requests to them.
 */
describe('a grant the client is not registered for', () => {
  let server: TestServer;
  let codeOnly: { id: string; secret: string };

  before(async () => {
    server = await startTestServer();
    const made = await server.services.clients.create({ name: 'Code only', grantTypes: ['authorization_code'], redirectUris: ['https://rp.example.test/cb'], scope: ['openid', 'read'] });
    codeOnly = { id: made.client.clientId, secret: made.clientSecret! };
  });
  after(() => server.stop());

  it('is unauthorized_client at the token endpoint, for every grant type the provider serves', async () => {
    for (const form of [
      { grant_type: 'client_credentials' },
      { grant_type: 'password', username: 'nobody', password: 'nothing' },
      { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'x' },
      { grant_type: 'refresh_token', refresh_token: 'x' },
    ] as Array<Record<string, string>>) {
      // Whatever the client prefers: the token endpoint's errors are JSON (RFC 6749 §5.2).
      for (const accept of ['application/json', 'text/html']) {
        const answer = await postForm(`${server.url}/token`, form, { authorization: basicAuth(codeOnly.id, codeOnly.secret), accept });
        expect([answer.status, answer.json.error], `${form.grant_type}, Accept: ${accept}: ${answer.text}`).to.deep.equal([400, 'unauthorized_client']);
      }
    }
  });

  it('is unauthorized_client at device authorization', async () => {
    const answer = await postForm(`${server.url}/device/auth`, { scope: 'openid' }, { authorization: basicAuth(codeOnly.id, codeOnly.secret) });
    expect([answer.status, answer.json.error], answer.text).to.deep.equal([400, 'unauthorized_client']);
  });

  it('is unauthorized_client through a dialect (django-oauth-toolkit) too, and invalid_client still comes first for wrong credentials', async () => {
    const answer = await postForm(`${server.url}/auth/oauth2/token/`, { grant_type: 'client_credentials' }, { authorization: basicAuth(codeOnly.id, codeOnly.secret) });
    expect([answer.status, answer.json.error], answer.text).to.deep.equal([400, 'unauthorized_client']);
    const wrong = await postForm(`${server.url}/token`, { grant_type: 'client_credentials' }, { authorization: basicAuth(codeOnly.id, 'wrong') });
    expect([wrong.status, wrong.json.error]).to.deep.equal([401, 'invalid_client']);
  });
});
