import { createHash } from 'node:crypto';
import pg from 'pg';
import { StorageUnavailableError } from '../unavailable.js';
import { guardText, type QueryResult, type SqlDatabase, type SqlExecutor } from './database.js';

// SQLSTATEs that mean "the server cannot serve you right now", not "the
// statement is wrong": 08 connection exception; 28 the role can no longer
// sign in; 3D000 the database is gone (dropped or renamed under a running
// server); 57P01-05 shutdown, crash, cannot connect now, database dropped,
// idle session ended; 53 insufficient resources (53100 disk full, 53200 out
// of memory, 53300 too many connections, 53400 a configured limit); 25006
// a read-only transaction, which is what every write meets on a standby, on
// a primary demoted under a failover, or with default_transaction_read_only
// (set by an operator, or by a disk-space guard). Each is an outage to the
// caller (503), not a fault of its request, and ends without a code change.
// Anything else the server says is about the statement.
const UNAVAILABLE_SQLSTATE = /^(08|28|53|57P0\d$|25006$|3D000$)/;

/** True when `error` carries a SQLSTATE (from node-postgres or PGlite alike) saying the server cannot serve now. */
export function unavailableSqlState(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && UNAVAILABLE_SQLSTATE.test(code);
}

/** True when `error` says the server could not be reached or cannot serve, not that the query was wrong. */
function isConnectionFailure(error: unknown): boolean {
  if (error instanceof pg.DatabaseError) return unavailableSqlState(error);
  const { code, message } = error as NodeJS.ErrnoException;
  // Socket errors (ECONNREFUSED, ECONNRESET, ETIMEDOUT, …) and pg's own
  // messages for a connection that dropped or never came.
  return (typeof code === 'string' && code.startsWith('E'))
    || /Connection terminated|timeout exceeded when trying to connect|not queryable/i.test(message ?? '');
}

/** Rethrows a lost connection or a server that cannot serve as StorageUnavailableError; other errors unchanged. */
async function reachable<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isConnectionFailure(error)) throw new StorageUnavailableError(`PostgreSQL unavailable: ${(error as Error).message}`, error);
    throw error;
  }
}

// What a pooler in transaction mode that does not keep prepared statements
// (PgBouncer before 1.21, or max_prepared_statements = 0) answers a named
// statement with: 26000 "prepared statement … does not exist" (the Bind
// reached another server connection) or 42P05 "… already exists" (the Parse
// did). Either way nothing was executed.
const POOLER_REFUSED = /^(26000|42P05)$/;

/**
 * Names for prepared statements, so that PostgreSQL parses and plans each
 * statement once per connection instead of at every execution: planning was
 * half of PostgreSQL's CPU in a refresh rotation (docs/performance.md). A
 * name is a hash of the statement's text (and of a generation, below), so a
 * name means the same statement on every connection and in every process
 * that shares a server connection through a pooler.
 */
export class StatementNames {
  private readonly names = new Map<string, string>();
  private generation = 0;
  private refused = false;

  /**
   * `onRefused` is told once, when a pooler shows it cannot keep prepared
   * statements; from then on every statement goes unnamed. At most `limit`
   * distinct texts are named: statements are built from fixed fragments, so
   * this is a bound, not a cache that evicts.
   */
  constructor(private readonly onRefused: () => void, private readonly limit = 500) {}

  nameOf(text: string): string | undefined {
    if (this.refused) return undefined;
    let name = this.names.get(text);
    if (name === undefined && this.names.size < this.limit) {
      name = `gh_${createHash('sha256').update(`${this.generation}\n${text}`).digest('hex').slice(0, 40)}`;
      this.names.set(text, name);
    }
    return name;
  }

  /** The pooler cannot keep prepared statements: go unnamed for good. */
  refuse(): void {
    if (this.refused) return;
    this.refused = true;
    this.names.clear();
    this.onRefused();
  }

  /**
   * A migration changed a table under prepared statements ("cached plan must
   * not change result type", for a `SELECT *`): prepare every statement
   * afresh under new names, on every connection as it next runs it.
   */
  renew(): void {
    this.generation += 1;
    this.names.clear();
  }
}

/** Runs `text` as a named statement when `names` gives it one; falls back to unnamed where the server cannot use the name. */
async function runStatement(client: pg.Pool | pg.PoolClient | pg.Client, text: string, params: unknown[], names?: StatementNames) {
  const name = names?.nameOf(text);
  if (!name) return client.query(text, params);
  try {
    return await client.query({ name, text, values: params });
  } catch (error) {
    if (!(error instanceof pg.DatabaseError)) throw error;
    if (POOLER_REFUSED.test(error.code ?? '')) names!.refuse();
    // 0A000 is also "feature not supported" in general; only the plan's result type is a reason to prepare again.
    else if (error.code === '0A000' && /cached plan must not change result type/.test(error.message)) names!.renew();
    else throw error;
    // Neither error ran the statement: run it once more, unnamed.
    return client.query(text, params);
  }
}

function executor(client: pg.Pool | pg.PoolClient | pg.Client, names?: StatementNames): SqlExecutor {
  return {
    async query<Row>(text: string, params: unknown[] = []): Promise<QueryResult<Row>> {
      return guardText(text, params, async () => {
        const result = await reachable(() => runStatement(client, text, params, names));
        return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
      });
    },
    async exec(sql: string): Promise<void> {
      await reachable(() => client.query(sql));
    },
  };
}

export interface PostgresOptions {
  max?: number;
  /**
   * Run statements outside transactions as prepared statements
   * (DATABASE_PREPARED_STATEMENTS; default false). Statements inside a
   * transaction always go unnamed: a pooler's refusal there would abort the
   * whole transaction.
   */
  preparedStatements?: boolean;
  /** Told once when a pooler refuses prepared statements (Gatehouse then goes on without them). */
  onPreparedStatementsRefused?: () => void;
}

/** A PostgreSQL server through a `pg` connection pool. */
export function openPostgres(connectionString: string, options: PostgresOptions = {}): SqlDatabase {
  // Without a connect timeout a request would wait for as long as the server
  // takes to not answer; two seconds turns that into a prompt 503.
  const pool = new pg.Pool({ connectionString, max: options.max ?? 10, connectionTimeoutMillis: 2000 });
  // An idle client that loses its connection emits 'error' on the pool; without a
  // listener that would crash the process. The next query simply reconnects.
  pool.on('error', () => {});
  const names = options.preparedStatements !== true ? undefined : new StatementNames(options.onPreparedStatementsRefused ?? (() => {}));
  return poolDatabase(pool, 'postgres', names);
}

export function poolDatabase(pool: pg.Pool, kind: SqlDatabase['kind'], names?: StatementNames): SqlDatabase {
  return {
    kind,
    ...executor(pool, names),
    async transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      const client = await reachable(() => pool.connect());
      const tx = executor(client);
      try {
        await tx.exec('BEGIN');
        const result = await work(tx);
        await tx.exec('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    async ping(): Promise<void> {
      await reachable(() => pool.query('SELECT 1'));
    },
    async close(): Promise<void> {
      await pool.end();
    },
  };
}
