import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { RedisPayloadStore } from '../../adapters/redis/payload-store.js';
import { basicAuth, postForm, send } from '../support/http.js';
import { authorize, discover, isActive, redeemCode, REDIRECT_URI } from '../support/oidc.js';
import { openSharedCluster } from '../support/payload-stores.js';
import { redisBinariesPresent, sharedRedisCluster } from '../support/redis-servers.js';
import { freePort, skipBecause, startTestServer, storageMode, type TestServer } from '../support/server.js';

/**
 * Issue 19: the ephemeral tier on a real Redis Cluster (three masters with a
 * replica each, started here on free ports): the single-use and revocation
 * guarantees hold when an artifact, its grant's index and its lookups live in
 * different slots. The store contracts run on the same cluster with
 * TEST_REDIS_CLUSTER=1 (test/adapters/).
 */
describe('Redis Cluster: Gatehouse on REDIS_CLUSTER_NODES', function () {
  this.timeout(120_000);
  const present = redisBinariesPresent();
  const missing = 'redis-server / redis-cli are not installed (Debian package redis-server)';
  let servers: TestServer[] = [];
  let auth: Record<string, string>;
  let clientId: string;
  let config: Awaited<ReturnType<typeof discover>>;
  const user = { username: `cluster-${Date.now()}`, password: 'sharded password' };

  before(async () => {
    if (!present) return;
    const { nodes } = await sharedRedisCluster();
    const port = await freePort();
    // One issuer served by every process, as behind a load balancer.
    const env = { REDIS_URL: '', REDIS_CLUSTER_NODES: nodes.map((n) => `${n.host}:${n.port}`).join(','), ISSUER: `http://localhost:${port}` };
    // Two processes' worth of servers share the cluster (and PostgreSQL, when
    // set; the embedded database belongs to one, so then there is one).
    servers = [await startTestServer({ ...env, PORT: String(port) })];
    if (storageMode.postgres) servers.push(await startTestServer(env));
    const created = await servers[0]!.services.clients.create({
      name: 'Cluster RP', grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
      redirectUris: [REDIRECT_URI], scope: ['openid', 'read'], tokenFormat: 'jwt',
    });
    clientId = created.client.clientId;
    auth = { authorization: basicAuth(clientId, created.clientSecret!) };
    config = await discover(servers[0]!, clientId, created.clientSecret);
    await servers[0]!.services.accounts.create(user);
  });

  after(async () => { for (const server of servers) await server.stop(); });

  const server = () => servers[0]!;

  it('says where its ephemeral tier is', function () {
    if (!present) skipBecause(this, missing);
    expect(server().services.storage.description.ephemeral).to.match(/^redis cluster 127\.0\.0\.1:\d+/);
  });

  it('gives exactly one of ten parallel redemptions of a code a token; the rest get invalid_grant', async function () {
    if (!present) skipBecause(this, missing);
    const flow = await authorize(config, user, { scope: 'openid read' });
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => redeemCode(servers[i % servers.length]!, flow, auth)));
    expect(replies.filter((r) => r.status === 200)).to.have.length(1);
    expect(replies.filter((r) => r.status === 400 && r.json.error === 'invalid_grant')).to.have.length(9);
  });

  it('gives exactly one of ten parallel refreshes of one refresh token a new pair', async function () {
    if (!present) skipBecause(this, missing);
    const first = await redeemCode(server(), await authorize(config, user, { scope: 'openid read' }), auth);
    const refresh = first.json.refresh_token as string;
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => postForm(`${servers[i % servers.length]!.url}/token`, { grant_type: 'refresh_token', refresh_token: refresh }, auth)));
    expect(replies.filter((r) => r.status === 200)).to.have.length(1);
    expect(replies.filter((r) => r.status === 400 && r.json.error === 'invalid_grant')).to.have.length(9);
  });

  it('revokes the tokens of a code redeemed twice, though they sit in other slots than their grant’s index', async function () {
    if (!present) skipBecause(this, missing);
    const flow = await authorize(config, user, { scope: 'openid read' });
    const first = await redeemCode(server(), flow, auth);
    const { access_token: accessToken, refresh_token: refreshToken } = first.json as { access_token: string; refresh_token: string };
    expect(await isActive(server(), accessToken, auth)).to.equal(true);
    const second = await redeemCode(server(), flow, auth);
    expect(second.json.error).to.equal('invalid_grant');
    for (const s of servers) {
      expect(await isActive(s, accessToken, auth)).to.equal(false);
      expect(await isActive(s, refreshToken, auth)).to.equal(false);
      expect((await send(`${s.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${accessToken}` } })).status).to.equal(401);
    }
  });

  it('delivers a JWT revocation on one process to every other within a second (cluster pub/sub)', async function () {
    if (!present) skipBecause(this, missing);
    if (servers.length < 2) skipBecause(this, 'two processes share a database only with PostgreSQL (DATABASE_URL)');
    const issued = await postForm(`${servers[0]!.url}/token`, { grant_type: 'client_credentials', scope: 'read' }, auth);
    const token = issued.json.access_token as string;
    const whoami = (s: TestServer) => send(`${s.url}/api/whoami`, { method: 'GET', headers: { authorization: `Bearer ${token}` } });
    expect((await whoami(servers[1]!)).status).to.equal(200);
    expect((await postForm(`${servers[0]!.url}/token/revocation`, { token }, auth)).status).to.equal(200);
    const revokedAt = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - revokedAt < 1000) status = (await whoami(servers[1]!)).status;
    expect(status, 'refused by the other process within a second').to.equal(401);
  });

  it('never lets an artifact written while its grant is revoked outlive the revocation (writes and revocations raced fifty times)', async function () {
    if (!present) skipBecause(this, missing);
    const redis = await openSharedCluster();
    const store = new RedisPayloadStore(redis, `gatehouse-test-${randomUUID()}:`);
    try {
      for (let i = 0; i < 50; i += 1) {
        const grantId = randomUUID();
        const id = randomUUID();
        await Promise.all([
          store.upsert('AccessToken', id, { grantId, clientId: 'racer', uid: randomUUID() }, 60),
          store.revokeByGrantId('AccessToken', grantId),
        ]);
        expect(await store.find('AccessToken', id), `round ${i}`).to.equal(undefined);
      }
    } finally {
      redis.disconnect();
    }
  });

  it('keeps serving client_credentials while the cluster answers (a short burst over both processes)', async function () {
    if (!present) skipBecause(this, missing);
    const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => postForm(`${servers[i % servers.length]!.url}/token`, { grant_type: 'client_credentials', scope: 'read' }, auth)));
    expect(replies.map((r) => r.status)).to.deep.equal(replies.map(() => 200));
  });
});

