import type { PasswordResetLinkRecord, PasswordResetLinkStore } from '../contract.js';
import { deleteInBatches, type SweepBound } from './batched-sweep.js';
import type { SqlExecutor } from './database.js';

interface Row {
  id: string;
  account_id: string;
  secret_hash: string;
  created_by: string | null;
  created_at: Date | string;
  expires_at: Date | string;
  used_at: Date | string | null;
}

/** One-time password-reset links, in the durable tier. */
export class SqlPasswordResetLinkStore implements PasswordResetLinkStore {
  constructor(private readonly db: SqlExecutor) {}

  async insert(link: Omit<PasswordResetLinkRecord, 'createdAt' | 'usedAt'>): Promise<void> {
    await this.db.query(
      'INSERT INTO password_reset_links (id, account_id, secret_hash, created_by, expires_at) VALUES ($1, $2, $3, $4, $5)',
      [link.id, link.accountId, link.secretHash, link.createdBy, link.expiresAt],
    );
  }

  async find(id: string): Promise<PasswordResetLinkRecord | undefined> {
    const { rows } = await this.db.query<Row>('SELECT id, account_id, secret_hash, created_by, created_at, expires_at, used_at FROM password_reset_links WHERE id = $1', [id]);
    const row = rows[0];
    return row && {
      id: row.id,
      accountId: row.account_id,
      secretHash: row.secret_hash,
      createdBy: row.created_by,
      createdAt: new Date(row.created_at),
      expiresAt: new Date(row.expires_at),
      usedAt: row.used_at === null ? null : new Date(row.used_at),
    };
  }

  // One UPDATE with its condition: of concurrent uses, the row lock lets exactly one match.
  async consume(id: string): Promise<boolean> {
    const { rowCount } = await this.db.query(
      'UPDATE password_reset_links SET used_at = now() WHERE id = $1 AND used_at IS NULL AND expires_at > now()',
      [id],
    );
    return rowCount === 1;
  }

  async consumeAllOf(accountId: string): Promise<number> {
    const { rowCount } = await this.db.query('UPDATE password_reset_links SET used_at = now() WHERE account_id = $1 AND used_at IS NULL', [accountId]);
    return rowCount ?? 0;
  }

  /**
   * Deletes links that expired over a day ago (kept that long so a late use
   * still meets "expired", not "unknown"), a batch at a time, within `bound`
   * (batched-sweep.ts); returns how many went.
   */
  sweep(bound?: Partial<SweepBound>): Promise<number> {
    return deleteInBatches(async (limit) => (await this.db.query(
      "DELETE FROM password_reset_links WHERE id IN (SELECT id FROM password_reset_links WHERE expires_at <= now() - interval '1 day' LIMIT $1)",
      [limit],
    )).rowCount, bound);
  }
}
