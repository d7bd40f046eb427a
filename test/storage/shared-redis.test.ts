import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import type { TokenRevocation } from '../../adapters/contract.js';
import { basicAuth, postForm } from '../support/http.js';
import { freePort, skipBecause, startTestServer, type TestServer } from '../support/server.js';
import { sleep, until } from '../support/waiting.js';

const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * A Redis server of this test's own, so that it can use several database
 * numbers (and read every key) without touching anyone else's data.
 */
async function startRedis(): Promise<{ url: (db: number) => string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => null });
  probe.on('error', () => {});
  for (let attempt = 0; ; attempt += 1) {
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch {
      if (attempt > 100 || child.exitCode !== null) { child.kill(); throw new Error('redis-server did not start'); }
      await sleep(50);
    }
  }
  probe.disconnect();
  return { url: (db) => `redis://127.0.0.1:${port}/${db}`, child };
}

/** Whether `server`'s denylist holds a revocation of `claims` (it waits for the view to be complete once). */
async function revokedAt(server: TestServer, claims: { jti: string; client_id: string; iat: number }): Promise<boolean> {
  return server.services.jwtAccessTokens.isRevoked(claims);
}

/**
 * Publishes a revocation of a token of `server`'s own and waits until its
 * denylist holds it. Redis delivers a subscriber's messages in publication
 * order, so anything published earlier on a channel it hears has then
 * arrived too.
 */
async function barrier(server: TestServer): Promise<void> {
  const jti = `barrier-${randomUUID()}`;
  const claims = { jti, client_id: 'barrier', iat: nowSeconds() + 5 };
  await server.services.storage.revocations!.publish([{ kind: 'token', jti, until: nowSeconds() + 600 }]);
  await until(() => server.services.jwtAccessTokens.isRevoked(claims) === true);
}

describe('deployments sharing one Redis server', function () {
  // Each test starts two or three servers.
  this.timeout(120_000);
  let redis: Awaited<ReturnType<typeof startRedis>>;
  const servers: TestServer[] = [];

  before(async function () {
    if (spawnSync('redis-server', ['--version']).status !== 0) skipBecause(this, 'redis-server is not installed');
    redis = await startRedis();
  });

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.stop()));
  });

  after(() => { redis?.child.kill(); });

  async function deployment(db: number, prefix?: string): Promise<TestServer> {
    const server = await startTestServer({ REDIS_URL: redis.url(db), ...(prefix ? { REDIS_PREFIX: prefix } : {}) });
    servers.push(server);
    return server;
  }

  it('delivers a revocation to every process on the same database, and never to a deployment on another database', async () => {
    const [first, sameDatabase, otherDatabase] = [await deployment(1), await deployment(1), await deployment(2)];
    // A client id both deployments have (the dashboard's is the same everywhere).
    const claims = { jti: `token-${randomUUID()}`, client_id: 'shared-client-id', iat: nowSeconds() + 5 };
    for (const server of [first, sameDatabase, otherDatabase]) expect(await revokedAt(server, claims)).to.equal(false);

    const revocation: TokenRevocation = { kind: 'client', clientId: claims.client_id, issuedUntil: nowSeconds() + 10, until: nowSeconds() + 600 };
    await first.services.storage.revocations!.publish([revocation]);
    await until(() => sameDatabase.services.jwtAccessTokens.isRevoked(claims) === true);
    await barrier(otherDatabase);
    expect(await revokedAt(otherDatabase, claims), 'the other database\'s denylist').to.equal(false);
    expect(await revokedAt(first, claims)).to.equal(true);
  });

  it('keeps the keys and channels of deployments with different REDIS_PREFIX apart on one database', async () => {
    const [tenantA, tenantB] = [await deployment(3, 'tenant-a:'), await deployment(3, 'tenant-b:')];
    const { client, clientSecret } = await tenantA.services.clients.create({ name: 'Prefixed', grantTypes: ['client_credentials'], scope: ['read'] });
    const issued = await postForm(`${tenantA.url}/token`, { grant_type: 'client_credentials', scope: 'read' }, { authorization: basicAuth(client.clientId, clientSecret!) });
    expect(issued.status).to.equal(200);

    const claims = { jti: `token-${randomUUID()}`, client_id: client.clientId, iat: nowSeconds() + 5 };
    expect(await revokedAt(tenantB, claims)).to.equal(false);
    await tenantA.services.storage.revocations!.publish([{ kind: 'client', clientId: client.clientId, issuedUntil: nowSeconds() + 10, until: nowSeconds() + 600 }]);
    expect(await revokedAt(tenantA, claims)).to.equal(true);
    await barrier(tenantB);
    expect(await revokedAt(tenantB, claims), 'the other prefix\'s denylist').to.equal(false);

    const inspector = new Redis(redis.url(3));
    try {
      const keys = await inspector.keys('*');
      expect(keys.filter((key) => !key.startsWith('tenant-a:') && !key.startsWith('tenant-b:')), 'keys outside both prefixes').to.deep.equal([]);
      expect(keys.some((key) => key.startsWith('tenant-a:ClientCredentials:')), 'tenant A\'s token').to.equal(true);
      expect(keys.some((key) => key.startsWith('tenant-b:ClientCredentials:')), 'tenant A\'s token under B\'s prefix').to.equal(false);
      expect(await inspector.exists('tenant-a:revocations', 'tenant-b:revocations')).to.equal(2);
      expect((await inspector.zrange('tenant-a:revocations', '0', '-1')).some((member) => member.endsWith(`:${client.clientId}`))).to.equal(true);
      expect((await inspector.zrange('tenant-b:revocations', '0', '-1')).some((member) => member.endsWith(`:${client.clientId}`))).to.equal(false);
    } finally {
      inspector.disconnect();
    }
  });

  it('keeps the key names earlier versions used when REDIS_PREFIX is not set', async () => {
    const server = await deployment(4);
    await revokedAt(server, { jti: 'any', client_id: 'any', iat: nowSeconds() + 5 });
    const inspector = new Redis(redis.url(4));
    try {
      expect(await inspector.exists('gatehouse:revocations')).to.equal(1);
    } finally {
      inspector.disconnect();
    }
  });
});
