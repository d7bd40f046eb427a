import { StorageRefusedError, StorageUnavailableError } from '../unavailable.js';
import type { SqlDatabase, SqlExecutor } from './database.js';
import { migrations } from './migrations.js';

// Any constant works; it only has to be the same in every Gatehouse process.
const MIGRATION_LOCK = 4_715_001;

// SQLSTATEs that mean "this role, or this database, may not do that": 42501
// insufficient privilege; 25006 a read-only transaction (a standby, or
// default_transaction_read_only).
const INSUFFICIENT_PRIVILEGE = '42501';
const READ_ONLY_TRANSACTION = '25006';

// What a running server does to its tables (docs/operations/upgrades.md,
// "A least-privilege database role"); DDL is the migrating role's alone.
const TABLE_PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] as const;

// What a server's own role needs (run `gatehouse migrate` as the schema's owner).
const GRANTS = 'A running server needs only SELECT, INSERT, UPDATE and DELETE on Gatehouse\'s tables and USAGE on their sequences: '
  + 'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO <role>; GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO <role> '
  + '(docs/operations/upgrades.md, "A least-privilege database role")';

const WRITABLE = (db: SqlDatabase) => `Gatehouse writes on every sign-in and token request: point ${setting(db)} at the primary, writable database`;

/**
 * The database answered and refused what Gatehouse needs (a privilege, or
 * writes at all): a setting to change, not an outage to wait out. The cause
 * carries the SQLSTATE (42501 or 25006), the server's own when it sent one.
 */
export class DatabaseRefusedError extends StorageRefusedError {
  override name = 'DatabaseRefusedError';

  constructor(db: SqlDatabase, detail: string, sqlstate: string, cause?: unknown) {
    super(`${setting(db)}: ${detail}`, cause ?? Object.assign(new Error(detail), { code: sqlstate }));
  }
}

/**
 * Applies pending migrations, after checking that the database can be
 * written and that the role can do what a running server does. Safe when
 * several processes start at once: a transaction-scoped advisory lock
 * serialises them, and the second one finds nothing left to do. Returns the
 * ids it applied.
 *
 * A fully migrated database gets no DDL at all, so a role with only
 * SELECT, INSERT, UPDATE and DELETE on the tables starts: PostgreSQL checks
 * CREATE on the schema before it looks whether a table exists, so even
 * `CREATE TABLE IF NOT EXISTS` needs it. Every refusal names the setting and
 * what to change (a DatabaseRefusedError, a StorageUnavailableError that
 * start-up reports without a stack trace).
 */
export async function migrate(db: SqlDatabase): Promise<string[]> {
  try {
    await refuseReadOnly(db);
    const applied = pending(await appliedIds(db)).length ? await applyPending(db) : [];
    await refuseMissingPrivileges(db);
    return applied;
  } catch (error) {
    if (error instanceof DatabaseRefusedError) throw error;
    throw refusal(db, error) ?? error;
  }
}

/** The ids `schema_migrations` records, read without DDL; none when the table does not exist yet. */
async function appliedIds(db: SqlExecutor): Promise<Set<string>> {
  const { rows: [table] } = await db.query<{ present: boolean }>("SELECT to_regclass('schema_migrations') IS NOT NULL AS present");
  if (!table?.present) return new Set();
  const { rows } = await db.query<{ id: string }>('SELECT id FROM schema_migrations');
  return new Set(rows.map((row) => row.id));
}

function pending(done: Set<string>) {
  return migrations.filter((migration) => !done.has(migration.id));
}

/** Under the lock, reads again what is applied (another process may have just done it) and applies the rest in one transaction. */
async function applyPending(db: SqlDatabase): Promise<string[]> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      id text PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const applied: string[] = [];
    for (const migration of pending(await appliedIds(tx))) {
      await tx.exec(migration.sql);
      await tx.query('INSERT INTO schema_migrations (id) VALUES ($1)', [migration.id]);
      applied.push(migration.id);
    }
    return applied;
  });
}

/**
 * A standby, or a database whose transactions are read-only by default,
 * would let Gatehouse start and then fail every sign-in and token request:
 * refuse it at start instead, while the reason is still plain.
 */
async function refuseReadOnly(db: SqlDatabase): Promise<void> {
  const { rows: [state] } = await db.query<{ standby: boolean; read_only: string }>(
    "SELECT pg_is_in_recovery() AS standby, current_setting('transaction_read_only') AS read_only",
  );
  if (!state?.standby && state?.read_only !== 'on') return;
  const what = state.standby ? 'a standby (a read-only replica in recovery)' : 'read-only (default_transaction_read_only is on)';
  throw new DatabaseRefusedError(db, `the database is ${what}; ${WRITABLE(db)}`, READ_ONLY_TRANSACTION);
}

/** Gatehouse's own tables: every table a migration creates (and that still exists). */
function migrationTables(): string[] {
  const names = migrations.flatMap((migration) => [...migration.sql.matchAll(/CREATE TABLE (?:IF NOT EXISTS )?([A-Za-z_][A-Za-z0-9_]*)/g)].map((match) => match[1]!));
  return [...new Set(names)];
}

/**
 * Checks, before any request needs them, the privileges a running server
 * uses: SELECT on `schema_migrations`; SELECT, INSERT, UPDATE and DELETE on
 * every other table; USAGE on their sequences (audit_events' id). Without
 * this a missing GRANT surfaced as a 500 on whichever request first met it.
 */
async function refuseMissingPrivileges(db: SqlDatabase): Promise<void> {
  const checks = TABLE_PRIVILEGES.map((privilege) => `has_table_privilege(t.oid, '${privilege}')`).join(' AND ');
  const { rows } = await db.query<{ name: string }>(
    `WITH t AS (SELECT name, to_regclass(name) AS oid FROM unnest($1::text[]) AS name)
     SELECT name FROM t WHERE t.oid IS NOT NULL AND NOT (${checks})
     UNION ALL
     SELECT 'schema_migrations' WHERE NOT has_table_privilege('schema_migrations', 'SELECT')
     UNION ALL
     SELECT s.oid::regclass::text FROM t
       JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = t.oid AND d.classid = 'pg_class'::regclass
       JOIN pg_class s ON s.oid = d.objid
      -- The CASE keeps the check to sequences whatever order the planner picks (a table's toast relation depends on it too).
      WHERE CASE WHEN s.relkind = 'S' THEN NOT has_sequence_privilege(s.oid, 'USAGE') ELSE false END`,
    [migrationTables()],
  );
  if (!rows.length) return;
  throw new DatabaseRefusedError(db, `the database role lacks privileges on ${rows.map((row) => row.name).join(', ')}. ${GRANTS}`, INSUFFICIENT_PRIVILEGE);
}

/** The setting to check: the embedded database is reached through its data folder. */
function setting(db: SqlDatabase): string {
  return db.kind === 'postgres' ? 'DATABASE_URL' : 'GATEHOUSE_DATA_DIR';
}

/** A privilege or read-only refusal from the server, in an operator's words; undefined for anything else. */
function refusal(db: SqlDatabase, error: unknown): DatabaseRefusedError | undefined {
  // node-postgres's errors come wrapped when they mean "cannot serve now" (25006 among them).
  const reported = error instanceof StorageUnavailableError ? error.cause : error;
  const { code, message } = (reported ?? {}) as { code?: unknown; message?: string };
  if (code === INSUFFICIENT_PRIVILEGE) {
    return new DatabaseRefusedError(db, `the database role was refused (${message}). Migrations create tables: `
      + `run \`gatehouse migrate\` as the role that owns the schema. ${GRANTS}`, INSUFFICIENT_PRIVILEGE, reported);
  }
  if (code === READ_ONLY_TRANSACTION) {
    return new DatabaseRefusedError(db, `the database is read-only (${message}): a standby, or default_transaction_read_only is on. ${WRITABLE(db)}`, READ_ONLY_TRANSACTION, reported);
  }
  return undefined;
}
