import { rm } from 'node:fs/promises';
import { openEmbedded } from '../../adapters/embedded/pglite.js';
import type { SqlDatabase } from '../../adapters/sql/database.js';
import { openPostgres } from '../../adapters/sql/postgres.js';
import { embeddedDataDir } from './embedded-data.js';

export interface SqlDatabaseUnderTest {
  name: string;
  open(): Promise<{ db: SqlDatabase; close(): Promise<void> }>;
}

/**
 * The SQL databases a store test runs against: always a fresh embedded
 * PGlite, and PostgreSQL too when the suite has DATABASE_URL.
 */
export function sqlDatabasesUnderTest(): SqlDatabaseUnderTest[] {
  const databases: SqlDatabaseUnderTest[] = [{
    name: 'embedded PGlite',
    async open() {
      const dir = await embeddedDataDir();
      const db = await openEmbedded(dir, 'owner');
      return { db, close: async () => { await db.close(); await rm(dir, { recursive: true, force: true }); } };
    },
  }];
  if (process.env.DATABASE_URL) {
    databases.push({ name: 'PostgreSQL', async open() { const db = openPostgres(process.env.DATABASE_URL!); return { db, close: () => db.close() }; } });
  }
  return databases;
}
