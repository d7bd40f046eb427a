import type { SignInSessionRecord, SignInSessionStore } from '../contract.js';
import { deleteInBatches, type SweepBound } from './batched-sweep.js';
import type { SqlExecutor } from './database.js';

interface Row {
  session_uid: string;
  account_id: string;
  signed_in_at: Date | string;
  ip: string | null;
  user_agent: string | null;
  last_seen_at: Date | string;
  expires_at: Date | string;
}

const COLUMNS = 'session_uid, account_id, signed_in_at, ip, user_agent, last_seen_at, expires_at';
const LIVE = 'expires_at > now()';
const ORDER = 'ORDER BY expires_at DESC, session_uid';

function record(row: Row): SignInSessionRecord {
  return {
    sessionUid: row.session_uid,
    accountId: row.account_id,
    signedInAt: new Date(row.signed_in_at),
    ip: row.ip,
    userAgent: row.user_agent,
    lastSeenAt: new Date(row.last_seen_at),
    expiresAt: new Date(row.expires_at),
  };
}

/** The session index in the SQL table with expiry, when sessions live there (no Redis). */
export class SqlSignInSessionStore implements SignInSessionStore {
  constructor(private readonly db: SqlExecutor) {}

  async record(entry: SignInSessionRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO sign_in_sessions (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (session_uid) DO UPDATE SET account_id = excluded.account_id, signed_in_at = excluded.signed_in_at,
         ip = excluded.ip, user_agent = excluded.user_agent, last_seen_at = excluded.last_seen_at, expires_at = excluded.expires_at`,
      [entry.sessionUid, entry.accountId, entry.signedInAt, entry.ip, entry.userAgent, entry.lastSeenAt, entry.expiresAt],
    );
  }

  async touch(sessionUid: string, accountId: string, lastSeenAt: Date, expiresAt: Date): Promise<void> {
    await this.db.query(
      'UPDATE sign_in_sessions SET last_seen_at = $3, expires_at = $4 WHERE session_uid = $1 AND account_id = $2',
      [sessionUid, accountId, lastSeenAt, expiresAt],
    );
  }

  async remove(sessionUid: string): Promise<void> {
    await this.db.query('DELETE FROM sign_in_sessions WHERE session_uid = $1', [sessionUid]);
  }

  async find(sessionUid: string): Promise<SignInSessionRecord | undefined> {
    const { rows } = await this.db.query<Row>(`SELECT ${COLUMNS} FROM sign_in_sessions WHERE session_uid = $1 AND ${LIVE}`, [sessionUid]);
    return rows[0] && record(rows[0]);
  }

  async listByAccount(accountId: string): Promise<SignInSessionRecord[]> {
    const { rows } = await this.db.query<Row>(`SELECT ${COLUMNS} FROM sign_in_sessions WHERE account_id = $1 AND ${LIVE} ${ORDER}`, [accountId]);
    return rows.map(record);
  }

  async list(options: { limit: number; offset: number }): Promise<{ total: number; items: SignInSessionRecord[] }> {
    const [{ rows: counted }, { rows }] = await Promise.all([
      this.db.query<{ total: number | string }>(`SELECT count(*)::int AS total FROM sign_in_sessions WHERE ${LIVE}`),
      this.db.query<Row>(`SELECT ${COLUMNS} FROM sign_in_sessions WHERE ${LIVE} ${ORDER} LIMIT $1 OFFSET $2`, [options.limit, options.offset]),
    ]);
    return { total: Number(counted[0]?.total ?? 0), items: rows.map(record) };
  }

  /** Deletes expired entries (they are never answered meanwhile), a batch at a time, within `bound` (batched-sweep.ts); returns how many went. */
  sweep(bound?: Partial<SweepBound>): Promise<number> {
    return deleteInBatches(async (limit) => (await this.db.query(
      `DELETE FROM sign_in_sessions WHERE session_uid IN (SELECT session_uid FROM sign_in_sessions WHERE expires_at <= now() LIMIT $1)`,
      [limit],
    )).rowCount, bound);
  }
}
