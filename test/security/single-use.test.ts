import { expect } from 'chai';
import { Redis } from 'ioredis';
import { basicAuth, postForm } from '../support/http.js';
import { authorize, discover, isActive, redeemCode, REDIRECT_URI } from '../support/oidc.js';
import { startTestServer, storageMode, type TestServer } from '../support/server.js';

describe('single use, for real', () => {
  let server: TestServer;
  let auth: Record<string, string>;
  let config: Awaited<ReturnType<typeof discover>>;
  const user = { username: `mo-${Date.now()}`, password: 'racing password' };
  const OTHER_REDIRECT_URI = 'https://rp.example.test/other-callback';

  before(async () => {
    server = await startTestServer();
    const created = await server.services.clients.create({
      name: 'Racer', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT_URI, OTHER_REDIRECT_URI], scope: ['openid', 'read'],
    });
    auth = { authorization: basicAuth(created.client.clientId, created.clientSecret!) };
    config = await discover(server, created.client.clientId, created.clientSecret);
    await server.services.accounts.create(user);
  });

  after(() => server.stop());

  /** The token error metric's count for `error`. */
  async function tokenErrors(error: string): Promise<number> {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const line = text.split('\n').find((each) => each.startsWith(`gatehouse_token_errors_total{error="${error}"}`));
    return line ? Number(line.split(' ').pop()) : 0;
  }

  it('gives exactly one of ten parallel redemptions of a code a token; the rest get invalid_grant, each counted, and the revoked grant audited', async () => {
    const flow = await authorize(config, user, { scope: 'openid read' });
    const counted = await tokenErrors('invalid_grant');
    const since = new Date();
    const replies = await Promise.all(Array.from({ length: 10 }, () => redeemCode(server, flow, auth)));
    // However the losers were caught (by the provider, or when the request's writes were settled), operators see the replay.
    expect(await tokenErrors('invalid_grant')).to.equal(counted + 9);
    const { items } = await server.services.audit.list({ since, perPage: 100 });
    expect(items.filter((event) => event.event === 'grant.revoked').length, 'the replayed grant is audited as revoked').to.be.at.least(1);
    expect(replies.filter((r) => r.status === 200)).to.have.length(1);
    const losers = replies.filter((r) => r.status !== 200);
    expect(losers).to.have.length(9);
    for (const loser of losers) {
      expect(loser.status).to.equal(400);
      expect(loser.json.error).to.equal('invalid_grant');
    }
  });

  // RFC 9700 §4.14.2 leaves the choice between a grace window and strict
  // single use; Gatehouse has no grace window, so the outcome is deterministic.
  it('gives exactly one of ten parallel refreshes of one refresh token a new pair (no grace window: one winner, nine invalid_grant)', async () => {
    const flow = await authorize(config, user, { scope: 'openid read' });
    const first = await redeemCode(server, flow, auth);
    const refresh = first.json.refresh_token as string;
    const replies = await Promise.all(Array.from({ length: 10 }, () => postForm(`${server.url}/token`, { grant_type: 'refresh_token', refresh_token: refresh }, auth)));
    expect(replies.filter((r) => r.status === 200)).to.have.length(1);
    expect(replies.filter((r) => r.status === 400 && r.json.error === 'invalid_grant')).to.have.length(9);
  });

  describe('a code redeemed twice (RFC 6749 §4.1.2, RFC 9700 §4.2.4)', () => {
    it('answers the second redemption with invalid_grant and revokes the access and refresh tokens of the first', async () => {
      const flow = await authorize(config, user, { scope: 'openid read' });
      const first = await redeemCode(server, flow, auth);
      expect(first.status, first.text).to.equal(200);
      const { access_token: accessToken, refresh_token: refreshToken } = first.json as { access_token: string; refresh_token: string };
      expect(await isActive(server, accessToken, auth)).to.equal(true);
      expect(await isActive(server, refreshToken, auth)).to.equal(true);

      const second = await redeemCode(server, flow, auth);
      expect(second.status).to.equal(400);
      expect(second.json.error).to.equal('invalid_grant');
      expect(await isActive(server, accessToken, auth)).to.equal(false);
      expect(await isActive(server, refreshToken, auth)).to.equal(false);
      const refreshed = await postForm(`${server.url}/token`, { grant_type: 'refresh_token', refresh_token: refreshToken }, auth);
      expect(refreshed.json.error).to.equal('invalid_grant');
    });

    it('lets exactly one of ten concurrent redemptions of a code through; the other nine are invalid_grant, without a token', async () => {
      const flow = await authorize(config, user, { scope: 'openid read' });
      const replies = await Promise.all(Array.from({ length: 10 }, () => redeemCode(server, flow, auth)));
      expect(replies.filter((r) => r.status === 200), replies.map((r) => r.status).join(' ')).to.have.length(1);
      expect(replies.filter((r) => r.status === 400 && r.json.error === 'invalid_grant')).to.have.length(9);
      expect(replies.filter((r) => r.status !== 200).every((r) => !('access_token' in r.json))).to.equal(true);
    });

    it('keeps a consumed code in the store, marked consumed, so reuse is detected rather than "not found"', async () => {
      const flow = await authorize(config, user, { scope: 'openid' });
      const code = flow.callback.searchParams.get('code')!;
      expect(await server.services.storage.ephemeral.find('AuthorizationCode', code)).not.to.have.property('consumed');
      expect((await redeemCode(server, flow, auth)).status).to.equal(200);
      const stored = await server.services.storage.ephemeral.find('AuthorizationCode', code);
      expect(stored?.consumed, 'consumed timestamp').to.be.a('number');
    });

    it('keeps a consumed code’s Redis key until the code’s original expiry: consuming does not change its TTL', async function () {
      if (!process.env.REDIS_URL) this.skip(); // the TTL is Redis's (read here through REDIS_URL); the SQL tier keeps its expiry column untouched by consume
      const redis = new Redis(process.env.REDIS_URL!);
      try {
        const flow = await authorize(config, user, { scope: 'openid' });
        const key = `gatehouse:AuthorizationCode:${flow.callback.searchParams.get('code')!}`;
        const before = await redis.pttl(key);
        expect(before, 'a code has a TTL').to.be.within(1, server.config.authorizationCodeTtl * 1000);
        expect((await redeemCode(server, flow, auth)).status).to.equal(200);
        const after = await redis.pttl(key);
        expect(await redis.hget(key, 'consumed')).to.be.a('string');
        // Only the time that passed may have gone, never a reset or removal.
        expect(after).to.be.within(before - 2000, before);
      } finally {
        redis.disconnect();
      }
    });
  });

  describe('a code is bound to its client, its lifetime and its redirect_uri (RFC 6749 §4.1.3)', () => {
    it('refuses a code redeemed by another client with invalid_grant, and the code stays good for its own client', async () => {
      const other = await server.services.clients.create({ name: 'Thief', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scope: ['openid'] });
      const flow = await authorize(config, user, { scope: 'openid' });
      const stolen = await redeemCode(server, flow, { authorization: basicAuth(other.client.clientId, other.clientSecret!) });
      expect(stolen.status).to.equal(400);
      expect(stolen.json.error).to.equal('invalid_grant');
      expect(stolen.json).not.to.have.property('access_token');
      expect((await redeemCode(server, flow, auth)).status).to.equal(200);
    });

    it('refuses a redirect_uri other than the authorization request’s, although both are registered', async () => {
      const flow = await authorize(config, user, { scope: 'openid', redirectUri: OTHER_REDIRECT_URI });
      const reply = await redeemCode(server, flow, auth, { redirect_uri: REDIRECT_URI });
      expect(reply.status).to.equal(400);
      expect(reply.json.error).to.equal('invalid_grant');
      expect((await redeemCode(server, flow, auth, { redirect_uri: OTHER_REDIRECT_URI })).status).to.equal(200);
    });

    it('refuses an expired code with invalid_grant (AUTHORIZATION_CODE_TTL=3)', async () => {
      // Long enough that a code redeemed at once is redeemed in time on a loaded CI machine (1 s was not, once).
      const shortLived = await startTestServer({ AUTHORIZATION_CODE_TTL: '3' });
      try {
        const created = await shortLived.services.clients.create({ name: 'Slow RP', grantTypes: ['authorization_code'], redirectUris: [REDIRECT_URI], scope: ['openid'] });
        const slowAuth = { authorization: basicAuth(created.client.clientId, created.clientSecret!) };
        await shortLived.services.accounts.create(user).catch(() => undefined); // already there when the database is shared
        const rp = await discover(shortLived, created.client.clientId, created.clientSecret);
        const prompt = await authorize(rp, user, { scope: 'openid' });
        expect((await redeemCode(shortLived, prompt, slowAuth)).status, 'a code redeemed at once').to.equal(200);
        const flow = await authorize(rp, user, { scope: 'openid', browser: prompt.browser });
        await new Promise((resolve) => setTimeout(resolve, 4100));
        const reply = await redeemCode(shortLived, flow, slowAuth);
        expect(reply.status).to.equal(400);
        expect(reply.json.error).to.equal('invalid_grant');
      } finally {
        await shortLived.stop();
      }
    });
  });
});
