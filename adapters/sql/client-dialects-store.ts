import type { ClientDialectStore, ClientDialectUse } from '../contract.js';
import type { SqlExecutor } from './database.js';

/** Which dialects each client obtains tokens through, one row per client and dialect. */
export class SqlClientDialectStore implements ClientDialectStore {
  constructor(private readonly db: SqlExecutor) {}

  async noteUse(clientId: string, dialect: string, at: Date): Promise<void> {
    await this.db.query(
      `INSERT INTO client_dialects (client_id, dialect, first_used_at, last_used_at) VALUES ($1, $2, $3, $3)
       ON CONFLICT (client_id, dialect) DO UPDATE SET last_used_at = greatest(client_dialects.last_used_at, excluded.last_used_at)`,
      [clientId, dialect, at],
    );
  }

  async usesOf(clientId: string): Promise<ClientDialectUse[]> {
    const { rows } = await this.db.query<{ dialect: string; first_used_at: Date | string; last_used_at: Date | string }>(
      'SELECT dialect, first_used_at, last_used_at FROM client_dialects WHERE client_id = $1 ORDER BY last_used_at DESC, dialect', [clientId],
    );
    return rows.map((row) => ({ dialect: row.dialect, firstUsedAt: new Date(row.first_used_at), lastUsedAt: new Date(row.last_used_at) }));
  }
}
