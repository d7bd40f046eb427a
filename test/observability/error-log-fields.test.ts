import { PassThrough } from 'node:stream';
import { PGlite } from '@electric-sql/pglite';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import pg from 'pg';
import { sqlDatabaseOf, StorageUnavailableError } from '../../adapters/factory.js';
import { createLogger } from '../../src/observability/logger.js';
import { basicAuth, postForm } from '../support/http.js';
import { redisBinariesPresent, startRedis, type RedisProcess } from '../support/redis-servers.js';
import { skipBecause, startTestServer, type TestServer } from '../support/server.js';

/**
 * Drivers hang the request that failed on their errors: ioredis the command
 * and its arguments (`gatehouse:AuthorizationCode:<code>`), node-postgres the
 * `detail` quoting the row, PGlite the `query` and its `params`. An error
 * line keeps what says what went wrong (type, message, stack, code, and the
 * same of its causes) and nothing else, so no code or token reaches the log.
 */

const ALLOWED = new Set(['type', 'message', 'stack', 'code', 'status', 'error', 'error_detail', 'cause', 'errors']);

function capture(): { stream: PassThrough; lines: () => Array<Record<string, unknown>>; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => { text += String(chunk); });
  return {
    stream,
    text: () => text,
    lines: () => text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/** Every key of a logged error and of its causes is on the allow-list. */
function expectOnlyAllowedFields(logged: unknown): void {
  if (typeof logged !== 'object' || logged === null) return;
  for (const [key, value] of Object.entries(logged)) {
    expect(ALLOWED, `logged error field "${key}"`).to.include(key);
    if (key === 'cause') expectOnlyAllowedFields(value);
    if (key === 'errors') for (const each of value as unknown[]) expectOnlyAllowedFields(each);
  }
}

/** Logs `error` as the provider's server_error line is logged, and returns the line. */
async function logged(error: unknown): Promise<{ line: Record<string, unknown>; text: string }> {
  const out = capture();
  const logger = createLogger('info', out.stream);
  logger.error({ req_id: 'r-1', err: error }, 'provider server_error');
  logger.error(error as Error);
  await new Promise((resolve) => setImmediate(resolve));
  return { line: out.lines()[0]!, text: out.text() };
}

const secret = () => `tok-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;

describe('error lines: a driver error carries no code or token into the log', function () {
  this.timeout(30_000);

  describe('ioredis', () => {
    let own: RedisProcess | undefined;
    let redis: Redis;

    before(async function () {
      let url = process.env.REDIS_URL;
      if (!url) {
        if (!redisBinariesPresent()) skipBecause(this, 'REDIS_URL is unset and redis-server is not installed');
        own = await startRedis([]);
        url = `redis://127.0.0.1:${own.port}/0`;
      }
      redis = new Redis(url, { maxRetriesPerRequest: 0 });
    });

    after(async () => {
      redis?.disconnect();
      await own?.stop();
    });

    it('keeps the reply and drops the command with its arguments, as the error and as the cause of an outage', async () => {
      const code = secret();
      const key = `gatehouse-test-error-fields:AuthorizationCode:${code}`;
      await redis.set(key, 'a string', 'EX', 60);
      // WRONGTYPE: a real ReplyError whose `command` names the key, the code in it.
      const error = await redis.hset(key, 'payload', code).then(() => undefined, (failure: unknown) => failure);
      await redis.del(key);
      expect((error as { command?: { args?: unknown[] } }).command?.args, 'the driver does carry the code').to.include(key);

      for (const shown of [error, new StorageUnavailableError('Redis unavailable: WRONGTYPE', error)]) {
        const { line, text } = await logged(shown);
        expect(text).not.to.include(code);
        expectOnlyAllowedFields(line.err);
        expect(JSON.stringify(line.err)).to.include('WRONGTYPE');
      }
    });
  });

  describe('PGlite (the embedded database)', () => {
    let db: PGlite;

    before(async () => { db = await PGlite.create(); });
    after(async () => { await db?.close(); });

    it('keeps the SQLSTATE and message and drops the query, its parameters and the detail that quotes the row', async () => {
      const token = secret();
      await db.exec('CREATE TABLE tokens (id text PRIMARY KEY, payload text)');
      await db.query('INSERT INTO tokens VALUES ($1, $2)', [token, `{"refresh":"${token}"}`]);
      const error = await db.query('INSERT INTO tokens VALUES ($1, $2)', [token, `{"refresh":"${token}"}`]).then(() => undefined, (failure: unknown) => failure);
      expect(JSON.stringify(error), 'the driver does carry the token').to.include(token);

      const { line, text } = await logged(error);
      expect(text).not.to.include(token);
      expectOnlyAllowedFields(line.err);
      expect(line.err).to.include({ code: '23505' });
    });
  });

  describe('node-postgres', () => {
    let client: pg.Client | undefined;

    before(async function () {
      if (!process.env.DATABASE_URL) skipBecause(this, 'DATABASE_URL is unset');
      client = new pg.Client({ connectionString: process.env.DATABASE_URL });
      await client.connect();
    });
    after(async () => { await client?.end(); });

    it('keeps the SQLSTATE and message and drops the detail that quotes the row', async () => {
      const token = secret();
      await client!.query('CREATE TEMPORARY TABLE tokens (id text PRIMARY KEY)');
      await client!.query('INSERT INTO tokens VALUES ($1)', [token]);
      const error = await client!.query('INSERT INTO tokens VALUES ($1)', [token]).then(() => undefined, (failure: unknown) => failure);
      expect((error as pg.DatabaseError).detail, 'the driver does carry the token').to.include(token);

      const { line, text } = await logged(new AggregateError([error], 'several failed', { cause: error }));
      expect(text).not.to.include(token);
      expectOnlyAllowedFields(line.err);
      expect(JSON.stringify(line.err)).to.include('23505');
    });
  });
});

describe('error lines: a storage error at the token endpoint', function () {
  this.timeout(60_000);
  let server: TestServer;
  const out = capture();

  before(async () => {
    // The ephemeral tier in SQL: the token's row is written where the trigger below fails it.
    server = await startTestServer({ REDIS_URL: '', LOG_LEVEL: 'info' }, { logTo: out.stream });
  });
  after(async () => { await server?.stop(); });

  it('is logged as provider server_error without the token it was writing, and counted as a token error', async () => {
    const db = sqlDatabaseOf(server.services.storage);
    // A fault the server cannot foresee, raised by the database itself with
    // the row's values in the error's detail (as a constraint violation quotes them).
    await db.exec(`
      CREATE FUNCTION gatehouse_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'refused by a test trigger' USING DETAIL = 'leaked-value:' || NEW.id;
      END $$;
      CREATE TRIGGER gatehouse_test_refuse BEFORE INSERT ON oidc_payloads
        FOR EACH ROW WHEN (NEW.model = 'ClientCredentials') EXECUTE FUNCTION gatehouse_test_refuse();
    `);
    try {
      const cc = await server.services.clients.create({ name: `server error ${Date.now()}`, grantTypes: ['client_credentials'], scope: ['read'], tokenFormat: 'opaque' });
      const metric = async () => {
        const text = await (await fetch(`${server.url}/metrics`)).text();
        const line = text.split('\n').find((each) => each.startsWith('gatehouse_token_errors_total{error="server_error"}'));
        return line ? Number(line.split(' ').pop()) : 0;
      };
      const counted = await metric();
      const reply = await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'read' }, { authorization: basicAuth(cc.client.clientId, cc.clientSecret!) });
      expect(reply.status, reply.text).to.equal(500);
      expect(reply.json.error).to.equal('server_error');
      expect(await metric(), 'an alert on token errors sees the 500').to.equal(counted + 1);

      await new Promise((resolve) => setTimeout(resolve, 1200));
      const line = out.lines().find((each) => each.msg === 'provider server_error');
      expect(line, out.text()).to.exist;
      expectOnlyAllowedFields(line!.err);
      expect(line!.err).to.include({ code: 'P0001', message: 'refused by a test trigger' });
      expect(out.text()).not.to.match(/leaked-value:|INSERT INTO oidc_payloads/);
    } finally {
      await db.exec('DROP TRIGGER gatehouse_test_refuse ON oidc_payloads; DROP FUNCTION gatehouse_test_refuse();');
    }
  });
});
