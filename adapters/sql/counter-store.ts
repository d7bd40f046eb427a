import type { CounterState, CounterStore } from '../contract.js';
import { deleteInBatches, type SweepBound } from './batched-sweep.js';
import type { SqlExecutor } from './database.js';

interface CounterRow {
  count: number;
  last_ms: string;
}

/** Counters in the `attempt_counters` table and sets in `attempt_members`, for deployments without Redis. */
export class SqlCounterStore implements CounterStore {
  constructor(private readonly db: SqlExecutor) {}

  async hit(key: string, windowSeconds: number): Promise<CounterState> {
    // One statement, so concurrent hits never lose a count; a dead row
    // (past its window) starts again from one.
    const { rows } = await this.db.query<CounterRow>(
      `INSERT INTO attempt_counters (key, count, last_at, expires_at)
         VALUES ($1, 1, now(), now() + make_interval(secs => $2))
       ON CONFLICT (key) DO UPDATE SET
         count = CASE WHEN attempt_counters.expires_at <= now() THEN 1 ELSE attempt_counters.count + 1 END,
         last_at = now(),
         expires_at = now() + make_interval(secs => $2)
       RETURNING count, (extract(epoch FROM last_at) * 1000)::bigint AS last_ms`,
      [key, windowSeconds],
    );
    const row = rows[0]!;
    return { count: Number(row.count), lastAt: Number(row.last_ms) };
  }

  async peek(keys: string[]): Promise<Array<CounterState | undefined>> {
    if (!keys.length) return [];
    const { rows } = await this.db.query<CounterRow & { key: string }>(
      `SELECT key, count, (extract(epoch FROM last_at) * 1000)::bigint AS last_ms
         FROM attempt_counters WHERE key = ANY($1) AND expires_at > now()`,
      [keys],
    );
    const byKey = new Map(rows.map((row) => [row.key, { count: Number(row.count), lastAt: Number(row.last_ms) }]));
    return keys.map((key) => byKey.get(key));
  }

  async addMember(key: string, member: string, windowSeconds: number): Promise<number> {
    // The insert and the count share one snapshot, which does not show the
    // insert's own row: count the others, then this one.
    const { rows } = await this.db.query<{ count: number }>(
      `WITH added AS (
         INSERT INTO attempt_members (key, member, expires_at)
           VALUES ($1, $2, now() + make_interval(secs => $3))
         ON CONFLICT (key, member) DO UPDATE SET expires_at = EXCLUDED.expires_at
         RETURNING member)
       SELECT (1 + count(*))::integer AS count FROM attempt_members
        WHERE key = $1 AND member <> $2 AND expires_at > now()`,
      [key, member, windowSeconds],
    );
    return Number(rows[0]!.count);
  }

  async clear(key: string): Promise<void> {
    await this.db.query('DELETE FROM attempt_counters WHERE key = $1', [key]);
  }

  async release(key: string): Promise<void> {
    await this.db.query('UPDATE attempt_counters SET count = count - 1 WHERE key = $1 AND count > 0 AND expires_at > now()', [key]);
  }

  /** Deletes expired counters and set members, a batch at a time, each table within `bound` (batched-sweep.ts); returns how many went. */
  async sweep(bound?: Partial<SweepBound>): Promise<number> {
    const counters = await deleteInBatches(async (limit) => (await this.db.query(
      `DELETE FROM attempt_counters WHERE key IN (
         SELECT key FROM attempt_counters WHERE expires_at <= now() LIMIT $1)`,
      [limit],
    )).rowCount, bound);
    const members = await deleteInBatches(async (limit) => (await this.db.query(
      `DELETE FROM attempt_members WHERE (key, member) IN (
         SELECT key, member FROM attempt_members WHERE expires_at <= now() LIMIT $1)`,
      [limit],
    )).rowCount, bound);
    return counters + members;
  }
}
