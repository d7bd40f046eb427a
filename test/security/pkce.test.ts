import { expect } from 'chai';
import * as oidc from 'openid-client';
import { FormBrowser } from '../support/form-browser.js';
import { basicAuth } from '../support/http.js';
import {
  authorizationUrl, authorize, discover, frontChannel, redeemCode, REDIRECT_URI, signInAndConsent,
} from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** RFC 7636, with RFC 9700 §2.1.1 and §4.8.2: PKCE with S256, required, and not to be downgraded. */
describe('PKCE', () => {
  let server: TestServer;
  let confidential: { id: string; auth: Record<string, string> };
  let publicClientId: string;
  const user = { username: `pia-${Date.now()}`, password: 'proof key password' };

  /** The error an authorization request is sent back to the client with. */
  async function authorizationError(params: Record<string, string>): Promise<string | null> {
    const reply = await frontChannel(authorizationUrl(server, { response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', state: 'st', ...params }));
    expect(reply.location, `${reply.status} ${reply.html.slice(0, 200)}`).not.to.equal(null);
    expect(`${reply.location!.origin}${reply.location!.pathname}`).to.equal(REDIRECT_URI);
    expect(reply.location!.searchParams.get('code'), 'no code is issued').to.equal(null);
    return reply.location!.searchParams.get('error');
  }

  before(async () => {
    server = await startTestServer();
    const created = await server.services.clients.create({ name: 'Confidential RP', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scope: ['openid'] });
    confidential = { id: created.client.clientId, auth: { authorization: basicAuth(created.client.clientId, created.clientSecret!) } };
    const spa = await server.services.clients.create({ name: 'Public SPA', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scope: ['openid'], public: true });
    publicClientId = spa.client.clientId;
    await server.services.accounts.create(user);
  });

  after(() => server.stop());

  it('refuses an authorization request without code_challenge with invalid_request, from a public client and from a confidential one', async () => {
    expect(await authorizationError({ client_id: publicClientId })).to.equal('invalid_request');
    expect(await authorizationError({ client_id: confidential.id })).to.equal('invalid_request');
  });

  it('refuses code_challenge_method=plain with invalid_request', async () => {
    const challenge = oidc.randomPKCECodeVerifier();
    expect(await authorizationError({ client_id: publicClientId, code_challenge: challenge, code_challenge_method: 'plain' })).to.equal('invalid_request');
    expect(await authorizationError({ client_id: confidential.id, code_challenge: challenge, code_challenge_method: 'plain' })).to.equal('invalid_request');
  });

  it('refuses a missing or wrong code_verifier with invalid_grant, and then the right one still works', async () => {
    const flow = await authorize(await discover(server, confidential.id), user, { scope: 'openid' });
    const missing = await redeemCode(server, flow, confidential.auth, { code_verifier: undefined });
    expect([missing.status, missing.json.error]).to.deep.equal([400, 'invalid_grant']);
    const wrong = await redeemCode(server, flow, confidential.auth, { code_verifier: oidc.randomPKCECodeVerifier() });
    expect([wrong.status, wrong.json.error]).to.deep.equal([400, 'invalid_grant']);
    expect((await redeemCode(server, flow, confidential.auth)).status).to.equal(200);
  });

  it('refuses a public client’s redemption without code_verifier with invalid_grant', async () => {
    const flow = await authorize(await discover(server, publicClientId), user, { scope: 'openid' });
    const reply = await redeemCode(server, flow, {}, { client_id: publicClientId, code_verifier: undefined });
    expect([reply.status, reply.json.error]).to.deep.equal([400, 'invalid_grant']);
    expect((await redeemCode(server, flow, {}, { client_id: publicClientId })).status).to.equal(200);
  });

  describe('downgrade (RFC 9700 §4.8.2)', () => {
    /** A code issued through Lux's authorize/, where confidential clients are exempt from PKCE. */
    async function luxCode(): Promise<URL> {
      const browser = new FormBrowser((next) => next.href.startsWith(REDIRECT_URI));
      const url = authorizationUrl(server, { client_id: confidential.id, redirect_uri: REDIRECT_URI, response_type: 'code', state: 'lux' }, '/Lux/OAuth2/authorize/');
      return signInAndConsent(browser, url, user, REDIRECT_URI);
    }

    it('refuses a code_verifier for a code that was issued without a challenge (Lux exemption) with invalid_grant', async () => {
      const reply = await redeemCode(server, { callback: await luxCode() }, confidential.auth, { code_verifier: oidc.randomPKCECodeVerifier() });
      expect([reply.status, reply.json.error]).to.deep.equal([400, 'invalid_grant']);
    });

    it('still redeems such a code when no verifier is sent (the exemption is real, the check is not vacuous)', async () => {
      const reply = await redeemCode(server, { callback: await luxCode() }, confidential.auth);
      expect(reply.status, reply.text).to.equal(200);
    });
  });
});
