import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { openPostgres } from '../../adapters/sql/postgres.js';
import type { SqlDatabase } from '../../adapters/sql/database.js';
import { createScratchDatabase, pgbouncerBinary, startPgBouncer, type PgBouncer, type ScratchDatabase } from '../support/pgbouncer.js';
import { skipBecause } from '../support/server.js';

/**
 * DATABASE_PREPARED_STATEMENTS: statements outside transactions run as named
 * (prepared) statements, so PostgreSQL parses and plans each once per
 * connection. These tests need PostgreSQL itself, not a pooler: CI's pooled
 * run names the server behind the pooler in TEST_POSTGRES_DIRECT_URL.
 */
const directUrl = process.env.TEST_POSTGRES_DIRECT_URL ?? process.env.DATABASE_URL;

describe('prepared statements on PostgreSQL', function () {
  this.timeout(60_000);
  let db: SqlDatabase | undefined;

  beforeEach(function () {
    if (!directUrl) skipBecause(this, 'needs PostgreSQL (DATABASE_URL)');
  });

  afterEach(async () => {
    await db?.close();
    db = undefined;
  });

  const preparedOnTheConnection = async (database: SqlDatabase, text: string) => (await database.query<{ name: string }>(
    'SELECT name FROM pg_prepared_statements WHERE statement = $1', [text],
  )).rows.map((row) => row.name);

  it('prepares a statement once on a connection and runs it by name after that', async () => {
    // One connection, so the statement's second run and the look at pg_prepared_statements share it.
    db = openPostgres(directUrl!, { max: 1, preparedStatements: true });
    const text = `SELECT $1::int + 1 AS n -- ${randomBytes(4).toString('hex')}`;
    expect((await db.query<{ n: number }>(text, [1])).rows).to.deep.equal([{ n: 2 }]);
    expect((await db.query<{ n: number }>(text, [41])).rows).to.deep.equal([{ n: 42 }]);
    const names = await preparedOnTheConnection(db, text);
    expect(names).to.have.length(1);
    expect(names[0]).to.match(/^gh_[0-9a-f]{40}$/);
  });

  it('goes unnamed unless DATABASE_PREPARED_STATEMENTS is true (the default)', async () => {
    db = openPostgres(directUrl!, { max: 1 });
    const text = `SELECT $1::int AS n -- ${randomBytes(4).toString('hex')}`;
    await db.query(text, [1]);
    await db.query(text, [2]);
    expect(await preparedOnTheConnection(db, text)).to.deep.equal([]);
  });

  it('answers a SELECT * again after a migration changed the table under it, and prepares it afresh', async () => {
    db = openPostgres(directUrl!, { max: 1, preparedStatements: true });
    const table = `gh_prepared_${randomBytes(4).toString('hex')}`;
    await db.exec(`CREATE TABLE ${table} (id int PRIMARY KEY, a text); INSERT INTO ${table} VALUES (1, 'one')`);
    try {
      const text = `SELECT * FROM ${table} WHERE id = $1`;
      expect((await db.query(text, [1])).rows).to.deep.equal([{ id: 1, a: 'one' }]);
      const [before] = await preparedOnTheConnection(db, text);
      // A rolling upgrade's migration, from another process: the row type changes under the prepared plan.
      await db.exec(`ALTER TABLE ${table} ADD COLUMN b int NOT NULL DEFAULT 7`);
      expect((await db.query(text, [1])).rows).to.deep.equal([{ id: 1, a: 'one', b: 7 }]);
      expect((await db.query(text, [1])).rows).to.deep.equal([{ id: 1, a: 'one', b: 7 }]);
      // Prepared afresh under a new name (pg replaces a connection that failed a
      // statement, so the stale one has usually gone with it).
      const after = await preparedOnTheConnection(db, text);
      expect(after.filter((name) => name !== before)).to.have.length(1);
    } finally {
      await db.exec(`DROP TABLE ${table}`);
    }
  });

  describe('behind PgBouncer 1.18 in transaction mode, which does not keep prepared statements', () => {
    const binary = pgbouncerBinary();
    let database: ScratchDatabase | undefined;
    let bouncer: PgBouncer | undefined;

    before(async () => {
      if (!binary || !directUrl) return;
      database = await createScratchDatabase('gh_prepared_');
      bouncer = await startPgBouncer(binary, database);
    });

    after(async () => {
      await bouncer?.stop();
      await database?.drop();
    });

    it('notices the first refusal, says so once, and answers every query (unnamed from then on)', async function () {
      if (!binary) skipBecause(this, 'the pgbouncer binary is not installed (Debian package pgbouncer)');
      let refusals = 0;
      db = openPostgres(bouncer!.url, { max: 10, preparedStatements: true, onPreparedStatementsRefused: () => { refusals += 1; } });
      const text = 'SELECT $1::int * 2 AS n';
      // Ten client connections over four server connections: a name prepared on
      // one server connection is soon bound on another (or prepared again where it exists).
      for (let round = 0; round < 20 && refusals === 0; round += 1) {
        const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => db!.query<{ n: number }>(text, [i])));
        expect(answers.map((answer) => answer.rows[0]!.n)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i * 2));
      }
      expect(refusals, 'the pooler refused a named statement').to.equal(1);
      const after = await Promise.all(Array.from({ length: 50 }, (_, i) => db!.query<{ n: number }>(text, [i])));
      expect(after.map((answer) => answer.rows[0]!.n)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i * 2));
      expect(refusals, 'told once').to.equal(1);
    });
  });
});
