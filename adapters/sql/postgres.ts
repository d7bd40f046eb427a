import pg from 'pg';
import { guardText, type QueryResult, type SqlDatabase, type SqlExecutor } from './database.js';

function executor(client: pg.Pool | pg.PoolClient | pg.Client): SqlExecutor {
  return {
    async query<Row>(text: string, params: unknown[] = []): Promise<QueryResult<Row>> {
      return guardText(text, params, async () => {
        const result = await client.query(text, params);
        return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
      });
    },
    async exec(sql: string): Promise<void> {
      await client.query(sql);
    },
  };
}

/** A PostgreSQL server through a `pg` connection pool. */
export function openPostgres(connectionString: string, options: { max?: number } = {}): SqlDatabase {
  const pool = new pg.Pool({ connectionString, max: options.max ?? 10 });
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
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await work(executor(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    async ping(): Promise<void> {
      await pool.query('SELECT 1');
    },
    async close(): Promise<void> {
      await pool.end();
    },
  };
}
