import type { KeyRecord, KeysStore } from '../contract.js';
import { publicJwk } from '../public-jwk.js';
import type { SecretsAtRest } from '../secrets-at-rest.js';
import type { SqlDatabase, SqlExecutor } from './database.js';

interface KeyRow {
  kid: string;
  use: 'sig' | 'cookie';
  alg: string | null;
  /** Readable part: the public JWK of a signing key, nothing of a cookie key (or all of it in a row from before 0006). */
  material: Record<string, unknown>;
  sealed: string | null;
  created_at: Date | string;
  retired_at?: Date | string | null;
}

function sealContext(kid: string): string {
  return `key:${kid}`;
}

const KEYS_LOCK = 4_715_002;

/** Signing and cookie keys, newest first. Private material is stored sealed (AES-256-GCM). */
export class SqlKeysStore implements KeysStore {
  constructor(private readonly db: SqlDatabase, private readonly secrets: SecretsAtRest) {}

  private toRecord(row: KeyRow, withSecrets: boolean): KeyRecord {
    let material: Record<string, unknown>;
    if (withSecrets) material = row.sealed ? JSON.parse(this.secrets.open(row.sealed, sealContext(row.kid))) as Record<string, unknown> : row.material;
    else material = row.use === 'sig' ? publicJwk(row.material) : {};
    return {
      kid: row.kid,
      use: row.use,
      alg: row.alg,
      material,
      createdAt: new Date(row.created_at),
      retiredAt: row.retired_at ? new Date(row.retired_at) : null,
    };
  }

  /** What a key row holds at rest: only the public JWK readable, the whole key sealed. */
  private async write(db: SqlExecutor, key: Omit<KeyRecord, 'createdAt'>): Promise<void> {
    const readable = key.use === 'sig' ? publicJwk(key.material) : {};
    // clock_timestamp(), not now(): two keys added in one transaction must still order.
    await db.query(
      'INSERT INTO keys (kid, use, alg, material, sealed, created_at) VALUES ($1, $2, $3, $4::jsonb, $5, clock_timestamp())',
      [key.kid, key.use, key.alg, JSON.stringify(readable), this.secrets.seal(JSON.stringify(key.material), sealContext(key.kid))],
    );
  }

  /** Keys of a use, newest first; retired ones, and private material, only when asked. */
  async list(use: KeyRecord['use'], { includeRetired = false, withSecrets = false } = {}): Promise<KeyRecord[]> {
    const { rows } = await this.db.query<KeyRow>(
      `SELECT * FROM keys WHERE use = $1 ${includeRetired ? '' : 'AND retired_at IS NULL'} ORDER BY created_at DESC, kid DESC`, [use],
    );
    return rows.map((row) => this.toRecord(row, withSecrets));
  }

  /** Marks a key retired; false when there is no such unretired key. */
  async retire(kid: string): Promise<boolean> {
    const { rowCount } = await this.db.query('UPDATE keys SET retired_at = now() WHERE kid = $1 AND retired_at IS NULL', [kid]);
    return rowCount === 1;
  }

  async insert(key: Omit<KeyRecord, 'createdAt'>): Promise<void> {
    await this.write(this.db, key);
  }

  /**
   * Inserts `make()` only when no key of that use exists yet. Processes that
   * start together serialise on an advisory lock, so exactly one key is made.
   */
  async insertIfNone(use: KeyRecord['use'], make: () => Promise<Omit<KeyRecord, 'createdAt'>>, alg?: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [KEYS_LOCK]);
      const { rows } = await tx.query('SELECT 1 FROM keys WHERE use = $1 AND ($2::text IS NULL OR alg = $2) LIMIT 1', [use, alg ?? null]);
      if (rows.length) return;
      await this.write(tx, await make());
    });
  }

  /**
   * Start-up check: every sealed key was sealed with the configured key.
   * Throws a SecretsKeyError naming SECRETS_KEY otherwise.
   */
  async checkKey(): Promise<void> {
    const { rows } = await this.db.query<{ key_id: string }>(
      "SELECT DISTINCT split_part(sealed, '.', 2) AS key_id FROM keys WHERE sealed IS NOT NULL",
    );
    this.secrets.assertKeyIds(rows.map((row) => row.key_id));
  }

  /**
   * Upgrade step: keys stored before 0006 hold their private material in the
   * clear; seal it and keep only the public JWK readable. Returns how many
   * rows it converted.
   */
  async sealLegacyRows(): Promise<number> {
    return this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [KEYS_LOCK]);
      const { rows } = await tx.query<KeyRow>('SELECT * FROM keys WHERE sealed IS NULL');
      for (const row of rows) {
        await tx.query('UPDATE keys SET material = $2::jsonb, sealed = $3 WHERE kid = $1', [
          row.kid,
          JSON.stringify(row.use === 'sig' ? publicJwk(row.material) : {}),
          this.secrets.seal(JSON.stringify(row.material), sealContext(row.kid)),
        ]);
      }
      return rows.length;
    });
  }
}
