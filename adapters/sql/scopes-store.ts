import type { ScopeRecord, ScopesStore, SourceFingerprintStore } from '../contract.js';
import type { SqlExecutor } from './database.js';
import { SqlSourceFingerprintStore } from './source-fingerprints-store.js';

/** The scope registry: every scope a client may be given. */
export class SqlScopesStore implements ScopesStore {
  constructor(
    private readonly db: SqlExecutor,
    readonly sourceFingerprints: SourceFingerprintStore = new SqlSourceFingerprintStore(db, 'scope'),
  ) {}

  async list(): Promise<ScopeRecord[]> {
    const { rows } = await this.db.query<ScopeRecord>('SELECT name, description, warning FROM scopes ORDER BY created_at, name');
    return rows;
  }

  /** Adds a scope or changes its description and warning flag. */
  async save(scope: ScopeRecord, options: { ifStill?: ScopeRecord } = {}): Promise<boolean> {
    const { ifStill } = options;
    if (ifStill) {
      const { rowCount } = await this.db.query(
        'UPDATE scopes SET description = $2, warning = $3 WHERE name = $1 AND description = $4 AND warning = $5',
        [scope.name, scope.description, scope.warning, ifStill.description, ifStill.warning],
      );
      return rowCount === 1;
    }
    await this.db.query(
      `INSERT INTO scopes (name, description, warning) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET description = excluded.description, warning = excluded.warning`,
      [scope.name, scope.description, scope.warning],
    );
    return true;
  }
}
