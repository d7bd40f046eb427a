import { expect } from 'chai';
import pg from 'pg';
import { sqlDatabaseOf } from '../../adapters/factory.js';
import { basicAuth, postForm, type Reply } from '../support/http.js';
import { eventually, nodeClient, redisBinariesPresent, startRedis, type RedisProcess } from '../support/redis-servers.js';
import { skipBecause, startTestServer, type TestServer } from '../support/server.js';

/**
 * A store that still answers reads but refuses every write (Redis out of
 * memory, a PostgreSQL gone read-only) is an outage like one that is gone:
 * token requests answer 503 temporarily_unavailable, /readyz says which tier
 * is down, the token error metric counts it, and all of it ends by itself
 * when the store takes writes again.
 */

async function clientCredentials(server: TestServer, auth: Record<string, string>): Promise<Reply> {
  return postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'read' }, auth);
}

async function readiness(server: TestServer): Promise<{ status: number; body: Record<string, string> }> {
  const response = await fetch(`${server.url}/readyz`);
  return { status: response.status, body: await response.json() as Record<string, string> };
}

async function tokenErrors(server: TestServer, error: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split('\n').find((each) => each.startsWith(`gatehouse_token_errors_total{error="${error}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** A client_credentials client whose tokens are recorded in the ephemeral tier (opaque: always written). */
async function writingClient(server: TestServer): Promise<Record<string, string>> {
  const cc = await server.services.clients.create({ name: `refusing writes ${Date.now()}`, grantTypes: ['client_credentials'], scope: ['read'], tokenFormat: 'opaque' });
  return { authorization: basicAuth(cc.client.clientId, cc.clientSecret!) };
}

async function expectRefusedAsOutage(server: TestServer, auth: Record<string, string>, tier: 'durable' | 'ephemeral'): Promise<void> {
  const counted = await tokenErrors(server, 'temporarily_unavailable');
  const refused = await clientCredentials(server, auth);
  expect(refused.status, refused.text).to.equal(503);
  expect(refused.json.error).to.equal('temporarily_unavailable');
  expect(refused.json).not.to.have.property('access_token');
  expect(await tokenErrors(server, 'temporarily_unavailable'), 'the token error metric counts it').to.equal(counted + 1);
  const ready = await readiness(server);
  expect(ready.status).to.equal(503);
  expect(ready.body).to.include({ status: 'unavailable', [tier]: 'down' });
}

async function expectServingAgain(server: TestServer, auth: Record<string, string>): Promise<void> {
  await eventually('ready again', async () => (await readiness(server)).status === 200, 10_000);
  const issued = await clientCredentials(server, auth);
  expect(issued.status, issued.text).to.equal(200);
}

describe('faults: a Redis that refuses writes (maxmemory reached)', function () {
  this.timeout(60_000);
  let redis: RedisProcess | undefined;
  let server: TestServer | undefined;

  before(async function () {
    if (!redisBinariesPresent()) skipBecause(this, 'redis-server is not installed');
    redis = await startRedis([]);
    server = await startTestServer({ REDIS_URL: `redis://127.0.0.1:${redis.port}/0` });
  });

  after(async () => {
    await server?.stop();
    await redis?.stop();
  });

  it('answers 503 with /readyz 503 while Redis is out of memory, and serves again once it has room', async () => {
    const auth = await writingClient(server!);
    expect((await clientCredentials(server!, auth)).status).to.equal(200);
    expect((await readiness(server!)).status).to.equal(200);
    const admin = nodeClient(redis!.port);
    try {
      // Every command that may grow memory is refused with OOM; reads still answer.
      await admin.config('SET', 'maxmemory', '1');
      expect(await admin.ping()).to.equal('PONG');
      await expectRefusedAsOutage(server!, auth, 'ephemeral');
      // A wrong secret is counted by a MULTI, which Redis refuses whole (EXECABORT, its reasons apart): an outage too.
      const wrong = await clientCredentials(server!, { authorization: basicAuth('nobody-such', 'wrong secret') });
      expect([wrong.status, wrong.json.error], wrong.text).to.deep.equal([503, 'temporarily_unavailable']);
      await admin.config('SET', 'maxmemory', '0');
      await expectServingAgain(server!, auth);
    } finally {
      await admin.config('SET', 'maxmemory', '0').catch(() => {});
      admin.disconnect();
    }
  });
});

describe('faults: a PostgreSQL that refuses writes (read-only)', function () {
  this.timeout(60_000);
  const url = process.env.DATABASE_URL;
  let server: TestServer | undefined;
  let admin: pg.Client | undefined;
  let database = '';

  /**
   * New sessions of the database start read-only (or not); the server's open
   * ones are ended (and waited for: termination is asynchronous) so that its
   * pool, or the PgBouncer in front of it, opens new ones.
   */
  async function readOnly(on: boolean): Promise<void> {
    const { rows: [changed] } = await admin!.query<{ at: Date }>('SELECT clock_timestamp() AS at');
    await admin!.query(`ALTER DATABASE "${database}" ${on ? 'SET default_transaction_read_only = on' : 'RESET default_transaction_read_only'}`);
    const older = 'FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_start < $1';
    await admin!.query(`SELECT pg_terminate_backend(pid) ${older}`, [changed!.at]);
    await eventually('the sessions opened before the change have ended', async () => (await admin!.query<{ n: number }>(`SELECT count(*)::int AS n ${older}`, [changed!.at])).rows[0]!.n === 0, 10_000);
  }

  before(async function () {
    if (!url) skipBecause(this, 'DATABASE_URL is unset: the embedded case is below');
    // Straight to PostgreSQL: through a pooler, the admin's own session (not read-only) could serve the server next.
    admin = new pg.Client({ connectionString: process.env.TEST_POSTGRES_DIRECT_URL ?? url });
    await admin.connect();
    database = (await admin.query<{ name: string }>('SELECT current_database() AS name')).rows[0]!.name;
    // The ephemeral tier in PostgreSQL too, so that a token is written there.
    server = await startTestServer({ REDIS_URL: '' });
  });

  after(async () => {
    if (admin) await readOnly(false).catch(() => {});
    await server?.stop();
    await admin?.end();
  });

  it('answers 503 with /readyz 503 while the database is read-only (SQLSTATE 25006), and serves again once it is not', async () => {
    const auth = await writingClient(server!);
    expect((await clientCredentials(server!, auth)).status).to.equal(200);
    await readOnly(true);
    await expectRefusedAsOutage(server!, auth, 'durable');
    await readOnly(false);
    await expectServingAgain(server!, auth);
  });
});

describe('faults: an embedded database that refuses writes (read-only)', function () {
  this.timeout(60_000);
  let server: TestServer | undefined;

  before(async function () {
    if (process.env.DATABASE_URL) skipBecause(this, 'DATABASE_URL is set: the PostgreSQL case is above');
    server = await startTestServer({ REDIS_URL: '' });
  });

  after(async () => { await server?.stop(); });

  it('answers 503 with /readyz 503 while PGlite refuses writes, and serves again once it takes them', async () => {
    const auth = await writingClient(server!);
    expect((await clientCredentials(server!, auth)).status).to.equal(200);
    // PGlite has one session: this makes every later transaction read-only, as a full disk makes every write fail.
    const db = sqlDatabaseOf(server!.services.storage);
    await db.exec('SET default_transaction_read_only = on');
    try {
      await expectRefusedAsOutage(server!, auth, 'durable');
    } finally {
      await db.exec('SET default_transaction_read_only = off');
    }
    await expectServingAgain(server!, auth);
  });
});
