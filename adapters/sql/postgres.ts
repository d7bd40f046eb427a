import pg from 'pg';
import { StorageUnavailableError } from '../unavailable.js';
import { guardText, type QueryResult, type SqlDatabase, type SqlExecutor } from './database.js';

// SQLSTATE classes that mean "the server is not there for you right now":
// 08 connection exception, 57P01-03 shutdown / cannot connect now, 53300 too
// many connections, 3D000 the database is gone (dropped or renamed under a
// running server), 28 the role can no longer sign in. Each is an outage to
// the caller (503), not a fault of its request. Anything else the server
// says is about the statement.
const UNAVAILABLE_SQLSTATE = /^(08|28|57P0[123]$|53300$|3D000$)/;

/** True when `error` says the server could not be reached, not that the query was wrong. */
function isConnectionFailure(error: unknown): boolean {
  if (error instanceof pg.DatabaseError) return UNAVAILABLE_SQLSTATE.test(error.code ?? '');
  const { code, message } = error as NodeJS.ErrnoException;
  // Socket errors (ECONNREFUSED, ECONNRESET, ETIMEDOUT, …) and pg's own
  // messages for a connection that dropped or never came.
  return (typeof code === 'string' && code.startsWith('E'))
    || /Connection terminated|timeout exceeded when trying to connect|not queryable/i.test(message ?? '');
}

/** Rethrows a lost connection as StorageUnavailableError; other errors unchanged. */
async function reachable<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isConnectionFailure(error)) throw new StorageUnavailableError(`PostgreSQL unreachable: ${(error as Error).message}`, error);
    throw error;
  }
}

function executor(client: pg.Pool | pg.PoolClient | pg.Client): SqlExecutor {
  return {
    async query<Row>(text: string, params: unknown[] = []): Promise<QueryResult<Row>> {
      return guardText(text, params, async () => {
        const result = await reachable(() => client.query(text, params));
        return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
      });
    },
    async exec(sql: string): Promise<void> {
      await reachable(() => client.query(sql));
    },
  };
}

/** A PostgreSQL server through a `pg` connection pool. */
export function openPostgres(connectionString: string, options: { max?: number } = {}): SqlDatabase {
  // Without a connect timeout a request would wait for as long as the server
  // takes to not answer; two seconds turns that into a prompt 503.
  const pool = new pg.Pool({ connectionString, max: options.max ?? 10, connectionTimeoutMillis: 2000 });
  // An idle client that loses its connection emits 'error' on the pool; without a
  // listener that would crash the process. The next query simply reconnects.
  pool.on('error', () => {});
  return poolDatabase(pool, 'postgres');
}

export function poolDatabase(pool: pg.Pool, kind: SqlDatabase['kind']): SqlDatabase {
  return {
    kind,
    ...executor(pool),
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
