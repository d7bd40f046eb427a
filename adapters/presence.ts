import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openPostgres } from './sql/postgres.js';

/**
 * Whether Gatehouse's storage already exists where the configuration points:
 * the embedded database's folder, or the migrations table in PostgreSQL.
 * Tools other than the server use it to refuse to create an empty store by
 * mistake (a mistyped GATEHOUSE_DATA_DIR, a forgotten DATABASE_URL), where
 * the server would never look. Returns where it looked; `exists` is true when
 * the answer is unknown (an unreachable PostgreSQL is reported by the usual path).
 */
export async function storagePresence(options: { databaseUrl?: string; dataDir: string }): Promise<{ exists: boolean; where: string }> {
  if (!options.databaseUrl) {
    const folder = resolve(options.dataDir);
    return { exists: existsSync(join(folder, 'pgdata')), where: `the embedded database folder ${folder} (GATEHOUSE_DATA_DIR)` };
  }
  const url = new URL(options.databaseUrl);
  const where = `the PostgreSQL database ${url.host}${url.pathname} (DATABASE_URL)`;
  const db = openPostgres(options.databaseUrl, { max: 1 });
  try {
    const { rows } = await db.query<{ table: string | null }>("SELECT to_regclass('schema_migrations')::text AS table");
    return { exists: rows[0]?.table != null, where };
  } catch {
    return { exists: true, where };
  } finally {
    await db.close().catch(() => {});
  }
}
