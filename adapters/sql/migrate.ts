import type { SqlDatabase } from './database.js';
import { migrations } from './migrations.js';

// Any constant works; it only has to be the same in every Gatehouse process.
const MIGRATION_LOCK = 4_715_001;

/**
 * Applies pending migrations. Safe when several processes start at once: a
 * transaction-scoped advisory lock serialises them, and the second one finds
 * nothing left to do. Returns the ids it applied.
 */
export async function migrate(db: SqlDatabase): Promise<string[]> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      id text PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await tx.query<{ id: string }>('SELECT id FROM schema_migrations');
    const done = new Set(rows.map((row) => row.id));
    const applied: string[] = [];
    for (const migration of migrations) {
      if (done.has(migration.id)) continue;
      await tx.exec(migration.sql);
      await tx.query('INSERT INTO schema_migrations (id) VALUES ($1)', [migration.id]);
      applied.push(migration.id);
    }
    return applied;
  });
}
