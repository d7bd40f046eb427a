import type { RedisClient } from './redis/connect.js';
import type { SqlDatabase } from './sql/database.js';

// Long enough to outlive the probe, short enough that the key never piles up
// anything: one key per deployment, overwritten by every probe.
const PROBE_KEY_TTL_MS = 10_000;

/**
 * Whether the SQL database takes writes now. A server can answer reads and
 * still refuse every write: a standby, a primary demoted by a failover, or
 * `default_transaction_read_only` set (by an operator, or by a disk-space
 * guard); a token request then fails with 25006, so the process is not
 * ready. Asked, not tried: no row is written on every probe.
 */
export async function sqlTakesWrites(db: SqlDatabase): Promise<boolean> {
  try {
    const { rows } = await db.query<{ standby: boolean; read_only: string }>(
      "SELECT pg_is_in_recovery() AS standby, current_setting('transaction_read_only') AS read_only",
    );
    return rows[0]?.standby === false && rows[0].read_only === 'off';
  } catch {
    return false;
  }
}

/**
 * Whether Redis takes writes now: a SET of one short-lived key. Redis has
 * no cheap question for it, and its reasons to refuse are many (OOM under
 * `maxmemory`, MISCONF after a failed snapshot, READONLY on a replica,
 * NOREPLICAS, BUSY), while a PING answers through all of them.
 */
export async function redisTakesWrites(redis: RedisClient, key: string): Promise<boolean> {
  try {
    return (await redis.set(key, '1', 'PX', PROBE_KEY_TTL_MS)) === 'OK';
  } catch {
    return false;
  }
}
