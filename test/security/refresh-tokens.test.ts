import { expect } from 'chai';
import { basicAuth, postForm, postJson, type Reply } from '../support/http.js';
import { authorize, discover, isActive, redeemCode, REDIRECT_URI } from '../support/oidc.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * RFC 9700 §4.14.2: refresh tokens rotate, and the reuse of a rotated one
 * revokes the whole grant. Concurrent refreshes of one token have exactly one
 * winner (no grace window): see "single use, for real".
 */
describe('refresh tokens', () => {
  let server: TestServer;
  let clientId: string;
  let auth: Record<string, string>;
  const user = { username: `rae-${Date.now()}`, password: 'refresh password' };

  const refresh = (token: string, as = auth, extra: Record<string, string> = {}): Promise<Reply> =>
    postForm(`${server.url}/token`, { grant_type: 'refresh_token', refresh_token: token, ...extra }, as);

  async function pair(scope = 'openid profile'): Promise<{ accessToken: string; refreshToken: string }> {
    const flow = await authorize(await discover(server, clientId), user, { scope });
    const reply = await redeemCode(server, flow, auth);
    expect(reply.status, reply.text).to.equal(200);
    return { accessToken: reply.json.access_token as string, refreshToken: reply.json.refresh_token as string };
  }

  before(async () => {
    server = await startTestServer();
    const created = await server.services.clients.create({
      name: 'Refreshing RP', grantTypes: ['authorization_code', 'refresh_token', 'password'], redirectUris: [REDIRECT_URI], scope: ['openid', 'profile', 'read', 'write'],
    });
    clientId = created.client.clientId;
    auth = { authorization: basicAuth(clientId, created.clientSecret!) };
    await server.services.accounts.create(user);
  });

  after(() => server.stop());

  describe('reuse of a rotated refresh token', () => {
    it('is answered invalid_grant and revokes the grant: the newest refresh token and every access token die too', async () => {
      const first = await pair();
      const second = (await refresh(first.refreshToken)).json as Record<string, string>;
      const third = (await refresh(second.refresh_token!)).json as Record<string, string>;
      const newest = { accessToken: third.access_token!, refreshToken: third.refresh_token! };
      expect(await isActive(server, newest.refreshToken, auth), 'the newest pair works before the reuse').to.equal(true);
      expect(await isActive(server, newest.accessToken, auth)).to.equal(true);
      expect(await isActive(server, first.refreshToken, auth), 'a rotated token is no longer active').to.equal(false);

      const reuse = await refresh(first.refreshToken);
      expect([reuse.status, reuse.json.error]).to.deep.equal([400, 'invalid_grant']);
      for (const [name, token] of Object.entries({ newestRefresh: newest.refreshToken, newestAccess: newest.accessToken, secondAccess: second.access_token!, firstAccess: first.accessToken })) {
        expect(await isActive(server, token, auth), name).to.equal(false);
      }
      const afterwards = await refresh(newest.refreshToken);
      expect([afterwards.status, afterwards.json.error]).to.deep.equal([400, 'invalid_grant']);
    });

    it('leaves other grants of the same user and client alone', async () => {
      const victim = await pair();
      const bystander = await pair();
      await refresh(victim.refreshToken);
      await refresh(victim.refreshToken);
      expect(await isActive(server, bystander.refreshToken, auth)).to.equal(true);
      expect(await isActive(server, bystander.accessToken, auth)).to.equal(true);
    });

    it('revokes the grant through the django-oauth-toolkit dialect the same way', async () => {
      const dot = (body: Record<string, string>) => postJson(`${server.url}/auth/oauth2/token/`, body, auth);
      const first = (await dot({ grant_type: 'password', username: user.username, password: user.password, scope: 'read' })).json as Record<string, string>;
      const second = (await dot({ grant_type: 'refresh_token', refresh_token: first.refresh_token! })).json as Record<string, string>;
      expect(second.refresh_token).to.be.a('string');
      const reuse = await dot({ grant_type: 'refresh_token', refresh_token: first.refresh_token! });
      expect([reuse.status, reuse.json.error]).to.deep.equal([400, 'invalid_grant']);
      expect(await isActive(server, second.refresh_token!, auth)).to.equal(false);
      expect(await isActive(server, second.access_token!, auth)).to.equal(false);
    });
  });

  describe('a refresh token is bound to its client and its scope (RFC 6749 §6)', () => {
    it('refuses a refresh token presented by another client with invalid_grant; it still works for its own', async () => {
      const other = await server.services.clients.create({ name: 'Other RP', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI], scope: ['openid', 'profile'] });
      const { refreshToken } = await pair();
      const stolen = await refresh(refreshToken, { authorization: basicAuth(other.client.clientId, other.clientSecret!) });
      expect([stolen.status, stolen.json.error]).to.deep.equal([400, 'invalid_grant']);
      expect(stolen.json).not.to.have.property('access_token');
      expect((await refresh(refreshToken)).status).to.equal(200);
    });

    it('tells only its own client about it at introspection: to another confidential client it is not active', async () => {
      const other = await server.services.clients.create({ name: 'Resource server', grantTypes: ['client_credentials'], scope: ['read'] });
      const otherAuth = { authorization: basicAuth(other.client.clientId, other.clientSecret!) };
      const { accessToken, refreshToken } = await pair();
      const seenByOther = await postForm(`${server.url}/token/introspection`, { token: refreshToken }, otherAuth);
      expect(seenByOther.json, seenByOther.text).to.deep.equal({ active: false });
      const hinted = await postForm(`${server.url}/token/introspection`, { token: refreshToken, token_type_hint: 'refresh_token' }, otherAuth);
      expect(hinted.json).to.deep.equal({ active: false });
      expect(await isActive(server, refreshToken, auth), 'its own client').to.equal(true);
      expect(await isActive(server, accessToken, otherAuth), 'an access token is still for resource servers to introspect').to.equal(true);
      // Nor does revocation tell it: answered as an unknown token is, and nothing is revoked.
      const revoked = await postForm(`${server.url}/token/revocation`, { token: refreshToken }, otherAuth);
      const unknown = await postForm(`${server.url}/token/revocation`, { token: `${refreshToken.slice(0, -2)}xx` }, otherAuth);
      expect([revoked.status, revoked.text]).to.deep.equal([unknown.status, unknown.text]);
      expect(revoked.status).to.equal(200);
      expect(await isActive(server, refreshToken, auth), 'still its own client’s').to.equal(true);
    });

    it('refuses more scope than was granted with invalid_scope, and grants the same or less', async () => {
      const { refreshToken } = await pair('openid');
      for (const scope of ['openid profile', 'openid read', 'openid admin']) {
        const wider = await refresh(refreshToken, auth, { scope });
        expect([wider.status, wider.json.error], scope).to.deep.equal([400, 'invalid_scope']);
      }
      const same = await refresh(refreshToken, auth, { scope: 'openid' });
      expect(same.status, same.text).to.equal(200);
      expect(same.json.scope).to.equal('openid');
    });
  });

  describe('a refresh that fails after the provider spent the token', () => {
    it('spends nothing: a bad resource gets invalid_target, and the same token then refreshes as if it had not been sent', async () => {
      const { accessToken, refreshToken } = await pair('openid');
      // oidc-provider rotates before it resolves the resource (RFC 8707), so this failure comes after the spend.
      const refused = await refresh(refreshToken, auth, { resource: 'https://typo.example.test/' });
      expect([refused.status, refused.json.error]).to.deep.equal([400, 'invalid_target']);
      expect(await isActive(server, accessToken, auth), 'the grant lives').to.equal(true);
      const retried = await refresh(refreshToken);
      expect(retried.status, retried.text).to.equal(200);
      expect(await isActive(server, retried.json.access_token as string, auth)).to.equal(true);
      // And the retry was the one use: the token is spent now.
      expect((await refresh(refreshToken)).json.error).to.equal('invalid_grant');
    });
  });
});
