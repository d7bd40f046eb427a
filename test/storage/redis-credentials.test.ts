import { expect } from 'chai';
import { basicAuth, postForm } from '../support/http.js';
import { redisBinariesPresent, startRedis, startRedisCluster, type RedisClusterProcesses, type RedisProcess } from '../support/redis-servers.js';
import { skipBecause, startTestServer, type TestServer } from '../support/server.js';

const DATA_PASSWORD = 'data-servers-password';
const SENTINEL_PASSWORD = 'sentinels-password';
const MASTER = 'gatehouse-auth';

/** Starts Gatehouse on `env`, issues one client_credentials token through it, and stops it. */
async function issuesATokenOn(env: Record<string, string>): Promise<void> {
  const server: TestServer = await startTestServer({ REDIS_URL: '', ...env });
  try {
    const created = await server.services.clients.create({ name: 'Redis credentials', grantTypes: ['client_credentials'], scope: ['read'] });
    const reply = await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'read' }, { authorization: basicAuth(created.client.clientId, created.clientSecret!) });
    expect(reply.status, reply.text).to.equal(200);
    expect((await fetch(`${server.url}/readyz`)).status).to.equal(200);
  } finally {
    await server.stop();
  }
}

async function startFails(env: Record<string, string>): Promise<string> {
  try {
    const server = await startTestServer({ REDIS_URL: '', ...env });
    await server.stop();
  } catch (error) {
    const failure = error as Error & { detail?: unknown; cause?: unknown };
    return `${failure.message} ${String(failure.detail ?? "")} ${String(failure.cause ?? "")}`;
  }
  throw new Error('expected start-up to fail');
}

/**
 * REDIS_PASSWORD and REDIS_SENTINEL_PASSWORD on real servers that require
 * them (`requirepass`): the data servers behind a sentinel and the sentinel
 * itself, and every node of a cluster.
 */
describe('Redis passwords for servers reached through sentinels or cluster nodes', function () {
  this.timeout(120_000);
  const present = redisBinariesPresent();
  const missing = 'redis-server / redis-cli are not installed (Debian package redis-server)';

  describe('Sentinel', () => {
    let master: RedisProcess | undefined;
    let sentinel: RedisProcess | undefined;
    let env: Record<string, string>;

    before(async () => {
      if (!present) return;
      master = await startRedis([`requirepass "${DATA_PASSWORD}"`], { password: DATA_PASSWORD });
      sentinel = await startRedis([
        `sentinel monitor ${MASTER} 127.0.0.1 ${master.port} 1`,
        `sentinel auth-pass ${MASTER} "${DATA_PASSWORD}"`,
        `requirepass "${SENTINEL_PASSWORD}"`,
      ], { sentinel: true, password: SENTINEL_PASSWORD });
      env = { REDIS_SENTINELS: `127.0.0.1:${sentinel.port}`, REDIS_SENTINEL_MASTER: MASTER };
    });

    after(async () => {
      await sentinel?.stop();
      await master?.stop();
    });

    it('serves with both passwords, and refuses to start without one, naming the setting', async function () {
      if (!present) skipBecause(this, missing);
      await issuesATokenOn({ ...env, REDIS_PASSWORD: DATA_PASSWORD, REDIS_SENTINEL_PASSWORD: SENTINEL_PASSWORD });
      expect(await startFails({ ...env, REDIS_SENTINEL_PASSWORD: SENTINEL_PASSWORD })).to.match(/REDIS_SENTINELS: cannot reach .*authentication failed \(check REDIS_PASSWORD/);
    });
  });

  describe('Cluster', () => {
    let cluster: RedisClusterProcesses | undefined;

    after(async () => { await cluster?.stop(); });

    it('serves with REDIS_PASSWORD on every node, and refuses to start without it, naming the setting', async function () {
      if (!present) skipBecause(this, missing);
      cluster = await startRedisCluster({ password: DATA_PASSWORD });
      const env = { REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',') };
      await issuesATokenOn({ ...env, REDIS_PASSWORD: DATA_PASSWORD });
      expect(await startFails(env)).to.match(/REDIS_CLUSTER_NODES: cannot reach .*authentication failed \(check REDIS_PASSWORD/);
    });
  });
});
