import { expect } from 'chai';
import { basicAuth, postForm } from '../support/http.js';
import { authorize, discover, REDIRECT_URI } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('single use, for real', () => {
  let server: TestServer;
  let auth: Record<string, string>;
  let config: Awaited<ReturnType<typeof discover>>;
  const user = { username: `mo-${Date.now()}`, password: 'racing password' };

  before(async () => {
    server = await startTestServer();
    const created = await server.services.clients.create({
      name: 'Racer', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI], scope: ['openid', 'read'],
    });
    auth = { authorization: basicAuth(created.client.clientId, created.clientSecret!) };
    config = await discover(server, created.client.clientId, created.clientSecret);
    await server.services.accounts.create(user);
  });

  after(() => server.stop());

  it('gives exactly one of ten parallel redemptions of a code a token; the rest get invalid_grant', async () => {
    const flow = await authorize(config, user, { scope: 'openid read' });
    const body = { grant_type: 'authorization_code', code: flow.callback.searchParams.get('code')!, redirect_uri: REDIRECT_URI, code_verifier: flow.verifier };
    const replies = await Promise.all(Array.from({ length: 10 }, () => postForm(`${server.url}/token`, body, auth)));
    expect(replies.filter((r) => r.status === 200)).to.have.length(1);
    const losers = replies.filter((r) => r.status !== 200);
    expect(losers).to.have.length(9);
    for (const loser of losers) {
      expect(loser.status).to.equal(400);
      expect(loser.json.error).to.equal('invalid_grant');
    }
  });

  it('gives exactly one of ten parallel refreshes of one refresh token a new pair', async () => {
    const flow = await authorize(config, user, { scope: 'openid read' });
    const first = await postForm(`${server.url}/token`, { grant_type: 'authorization_code', code: flow.callback.searchParams.get('code')!, redirect_uri: REDIRECT_URI, code_verifier: flow.verifier }, auth);
    const refresh = first.json.refresh_token as string;
    const replies = await Promise.all(Array.from({ length: 10 }, () => postForm(`${server.url}/token`, { grant_type: 'refresh_token', refresh_token: refresh }, auth)));
    expect(replies.filter((r) => r.status === 200)).to.have.length(1);
    expect(replies.filter((r) => r.status === 400 && r.json.error === 'invalid_grant')).to.have.length(9);
  });
});
