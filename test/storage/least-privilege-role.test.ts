import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import pg from 'pg';
import { openEmbedded } from '../../adapters/embedded/pglite.js';
import type { SqlDatabase } from '../../adapters/sql/database.js';
import { DatabaseRefusedError, migrate } from '../../adapters/sql/migrate.js';
import { migrations } from '../../adapters/sql/migrations.js';
import { openPostgres } from '../../adapters/sql/postgres.js';
import { embeddedDataDir } from '../support/embedded-data.js';
import { discover } from '../support/oidc.js';
import { createScratchDatabase, type ScratchDatabase } from '../support/pgbouncer.js';
import { skipBecause, startTestServer } from '../support/server.js';

/** What migrate() refused with: the error itself must be a DatabaseRefusedError (reported at start without a stack trace). */
async function refusal(db: SqlDatabase): Promise<string> {
  try {
    await migrate(db);
  } catch (error) {
    expect(error, String((error as Error).stack)).to.be.instanceOf(DatabaseRefusedError);
    return (error as DatabaseRefusedError).detail;
  }
  throw new Error('expected migrate() to refuse');
}

const DML = 'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO';

/** The scratch database on PostgreSQL itself, past any pooler (TEST_POSTGRES_DIRECT_URL in CI). */
function directUrl(database: string): string {
  const url = new URL(process.env.TEST_POSTGRES_DIRECT_URL ?? process.env.DATABASE_URL!);
  url.pathname = `/${database}`;
  return url.toString();
}
const SEQUENCES = 'GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO';

/**
 * Migrations need the schema's owner; a running server needs only DML on
 * Gatehouse's tables (docs/operations/upgrades.md, "A least-privilege
 * database role"). Start-up issued `CREATE TABLE IF NOT EXISTS
 * schema_migrations` every time, which PostgreSQL refuses without CREATE on
 * the schema even when the table exists, so such a role could not start.
 */
describe('a least-privilege database role', function () {
  this.timeout(120_000);

  it('embedded: a role with only DML starts on a migrated database; a missing grant and a read-only database are refused, naming the setting', async () => {
    const dir = await embeddedDataDir();
    const db = await openEmbedded(dir, 'owner');
    try {
      expect(await migrate(db)).to.have.length(migrations.length);
      // The embedded database has one session: SET ROLE makes every later statement the server role's.
      await db.exec(`CREATE ROLE gatehouse_server; GRANT USAGE ON SCHEMA public TO gatehouse_server; ${DML} gatehouse_server; SET ROLE gatehouse_server`);
      const withoutSequences = await refusal(db);
      expect(withoutSequences).to.match(/^GATEHOUSE_DATA_DIR: the database role lacks privileges on audit_events_id_seq\./);
      expect(withoutSequences).to.include(SEQUENCES);
      await db.exec(`RESET ROLE; ${SEQUENCES} gatehouse_server; SET ROLE gatehouse_server`);
      expect(await migrate(db)).to.deep.equal([]);
      await db.exec('RESET ROLE; SET default_transaction_read_only = on');
      expect(await refusal(db)).to.match(/^GATEHOUSE_DATA_DIR: the database is read-only \(default_transaction_read_only is on\)/);
    } finally {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe('PostgreSQL: a role with CONNECT, USAGE and DML only, after `gatehouse migrate` as the owner', () => {
    let database: ScratchDatabase | undefined;
    const role = `gh_server_${randomBytes(4).toString('hex')}`;
    const password = randomBytes(12).toString('hex');
    let roleUrl = '';
    const opened: SqlDatabase[] = [];
    const open = (url: string) => { const db = openPostgres(url); opened.push(db); return db; };

    before(async function () {
      if (!process.env.DATABASE_URL) return;
      // TEST_SCRATCH_DATABASE_PREFIX: on a server shared with other runs, the names this run may use.
      database = await createScratchDatabase(process.env.TEST_SCRATCH_DATABASE_PREFIX ?? 'gh_least_privilege_');
      const owner = open(database.url);
      await migrate(owner);
      await database.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
      // PostgreSQL before 15 lets every role CREATE in public: take that away, as 15 does.
      await database.query(`REVOKE CREATE ON SCHEMA public FROM PUBLIC; GRANT CONNECT ON DATABASE ${database.name} TO ${role}; GRANT USAGE ON SCHEMA public TO ${role}`);
      // The role signs in to PostgreSQL itself: a pooler in front (the suite's PgBouncer) knows only its own users.
      const url = new URL(directUrl(database.name));
      url.username = role;
      url.password = password;
      roleUrl = url.toString();
    });

    after(async () => {
      await Promise.all(opened.map((db) => db.close().catch(() => {})));
      await database?.drop();
      if (database) {
        const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
        await admin.connect();
        try { await admin.query(`DROP ROLE IF EXISTS ${role}`); } finally { await admin.end(); }
      }
    });

    it('without the grants, refuses to start, naming DATABASE_URL and what to grant', async function () {
      if (!database) skipBecause(this, 'needs DATABASE_URL');
      const detail = await refusal(open(roleUrl));
      expect(detail).to.match(/^DATABASE_URL: the database role was refused \(permission denied for table schema_migrations\)/);
      expect(detail).to.include('run `gatehouse migrate` as the role that owns the schema');
      expect(detail).to.include(DML);
      await database!.query(`${DML} ${role}`);
      expect(await refusal(open(roleUrl))).to.match(/^DATABASE_URL: the database role lacks privileges on audit_events_id_seq\. .*GRANT USAGE ON ALL SEQUENCES/);
    });

    it('with the grants, starts on the fully migrated database without DDL, and issues tokens', async function () {
      if (!database) skipBecause(this, 'needs DATABASE_URL');
      await database!.query(`${DML} ${role}; ${SEQUENCES} ${role}`);
      const server = await startTestServer({ DATABASE_URL: roleUrl });
      try {
        const { client, clientSecret } = await server.services.clients.create({ name: 'Least privilege', grantTypes: ['client_credentials'], scope: ['read'] });
        const config = await discover(server, client.clientId, clientSecret!);
        const tokens = await oidc.clientCredentialsGrant(config, { scope: 'read' });
        expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).to.equal(true);
      } finally {
        await server.stop();
      }
    });

    it('with a migration pending, refuses to start, saying to run `gatehouse migrate` as the owner', async function () {
      if (!database) skipBecause(this, 'needs DATABASE_URL');
      const last = migrations.at(-1)!.id;
      await database!.query('DELETE FROM schema_migrations WHERE id = $1', [last]);
      try {
        const detail = await refusal(open(roleUrl));
        expect(detail).to.match(/^DATABASE_URL: the database role was refused \(permission denied for schema public\)/);
        expect(detail).to.include('run `gatehouse migrate` as the role that owns the schema');
      } finally {
        await database!.query('INSERT INTO schema_migrations (id) VALUES ($1)', [last]);
      }
    });

    it('refuses a read-only database at start, naming DATABASE_URL', async function () {
      if (!database) skipBecause(this, 'needs DATABASE_URL');
      await database!.query(`ALTER DATABASE ${database!.name} SET default_transaction_read_only = on`);
      try {
        // Directly: a pooler's server connections would keep the setting they started with.
        expect(await refusal(open(directUrl(database!.name)))).to.match(/^DATABASE_URL: the database is read-only \(default_transaction_read_only is on\); .*point DATABASE_URL at the primary/);
      } finally {
        await database!.query(`ALTER DATABASE ${database!.name} RESET default_transaction_read_only`);
      }
    });
  });
});
