import type { SqlDatabase } from './database.js';

export interface KeyRecord {
  kid: string;
  use: 'sig' | 'cookie';
  alg: string | null;
  /** A private JWK for `sig`; `{ secret }` for `cookie`. */
  material: Record<string, unknown>;
  createdAt: Date;
  retiredAt?: Date | null;
}

interface KeyRow {
  kid: string;
  use: 'sig' | 'cookie';
  alg: string | null;
  material: Record<string, unknown>;
  created_at: Date | string;
  retired_at?: Date | string | null;
}

const KEYS_LOCK = 4_715_002;

/** Signing and cookie keys, newest first. */
export class KeysStore {
  constructor(private readonly db: SqlDatabase) {}

  /** Keys of a use, newest first; retired ones only when asked. */
  async list(use: KeyRecord['use'], { includeRetired = false } = {}): Promise<KeyRecord[]> {
    const { rows } = await this.db.query<KeyRow>(
      `SELECT * FROM keys WHERE use = $1 ${includeRetired ? '' : 'AND retired_at IS NULL'} ORDER BY created_at DESC, kid DESC`, [use],
    );
    return rows.map((row) => ({
      kid: row.kid,
      use: row.use,
      alg: row.alg,
      material: row.material,
      createdAt: new Date(row.created_at),
      retiredAt: row.retired_at ? new Date(row.retired_at) : null,
    }));
  }

  /** Marks a key retired; false when there is no such unretired key. */
  async retire(kid: string): Promise<boolean> {
    const { rowCount } = await this.db.query('UPDATE keys SET retired_at = now() WHERE kid = $1 AND retired_at IS NULL', [kid]);
    return rowCount === 1;
  }

  async insert(key: Omit<KeyRecord, 'createdAt'>): Promise<void> {
    // clock_timestamp(), not now(): two keys added in one transaction must still order.
    await this.db.query(
      'INSERT INTO keys (kid, use, alg, material, created_at) VALUES ($1, $2, $3, $4::jsonb, clock_timestamp())',
      [key.kid, key.use, key.alg, JSON.stringify(key.material)],
    );
  }

  /**
   * Inserts `make()` only when no key of that use exists yet. Processes that
   * start together serialise on an advisory lock, so exactly one key is made.
   */
  async insertIfNone(use: KeyRecord['use'], make: () => Promise<Omit<KeyRecord, 'createdAt'>>): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [KEYS_LOCK]);
      const { rows } = await tx.query('SELECT 1 FROM keys WHERE use = $1 LIMIT 1', [use]);
      if (rows.length) return;
      const key = await make();
      await tx.query(
        'INSERT INTO keys (kid, use, alg, material, created_at) VALUES ($1, $2, $3, $4::jsonb, clock_timestamp())',
        [key.kid, key.use, key.alg, JSON.stringify(key.material)],
      );
    });
  }
}
